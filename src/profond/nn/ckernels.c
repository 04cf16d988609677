/*
 * Noyaux C des normalisations du cours (chapitre « Normalisation par lots », chap-normalisation).
 *
 * Les mêmes équations que profond/nn/batchnorm.py et profond/nn/layernorm.py, mais chaque sens ne
 * parcourt le lot que deux ou trois fois, sans appel depuis Python entre deux opérations : c'est ce
 * qui manquait aux versions Python pour aller aussi vite que les noyaux compilés de PyTorch.
 * profond/nn/ckernels.py compile ce fichier à la première utilisation et l'appelle par ctypes.
 *
 * Mêmes nombres sur toute machine : chaque somme est faite dans un ordre écrit ici (huit
 * accumulateurs, combinés toujours de la même façon), et le fichier est compilé sans -ffast-math
 * et sans contraction en FMA (-ffp-contract=off). Le compilateur ne peut donc ni réordonner les
 * additions ni fusionner les opérations : le résultat est celui de l'arithmétique IEEE 754 du code
 * écrit, quel que soit le processeur.
 *
 * Le fichier s'inclut lui-même deux fois : une fois pour float (suffixe _f32), une fois pour
 * double (_f64). Tous les tenseurs sont contigus ; les vecteurs de paramètres sont toujours
 * fournis (γ = 1 et β = 0 quand la couche n'en a pas).
 */
#ifndef T

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LANES 8 /* accumulateurs indépendants : le compilateur en fait des instructions vectorielles */
#define ROWS 4  /* lignes ajoutées d'un coup aux sommes par colonne (voir add_rows) */

/* Sur x86-64 (Linux), chaque fonction existe en deux versions, AVX2 et de base, et la bonne est
 * choisie au chargement selon le processeur. Les deux font les mêmes opérations, dans le même ordre,
 * sur chaque accumulateur : seule la largeur des registres change, pas le résultat (les tests le
 * vérifient en compilant sans les deux versions, avec -DPROFOND_SANS_CLONES). */
#if defined(__x86_64__) && defined(__ELF__) && !defined(PROFOND_SANS_CLONES)
#define KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define KERNEL
#endif
#define COMBINE(a) ((((a)[0] + (a)[1]) + ((a)[2] + (a)[3])) + (((a)[4] + (a)[5]) + ((a)[6] + (a)[7])))

/* double d'abord : les noyaux float font leurs sommes de normalisation par lots en double, avec
 * sum_f64, spread_f64 et gather (voir bn_forward). */
#define T double
#define NAME(f) f##_f64
#include __FILE__
#undef T
#undef NAME

#define T float
#define NAME(f) f##_f32
#include __FILE__
#undef T
#undef NAME

#else /* ---------------------------------------------------------- corps générique, type T */

/* Σ_j v_j sur d valeurs contiguës, dans un ordre fixe. */
KERNEL static T NAME(sum)(const T *restrict v, long d) {
    T acc[LANES] = {0};
    long j = 0;
    for (; j + LANES <= d; j += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += v[j + k];
    for (int k = 0; j < d; j++, k++) acc[k] += v[j];
    return COMBINE(acc);
}

/* Σ_j (v_j − μ)² sur d valeurs contiguës (variance en deux passes : on centre d'abord). */
KERNEL static T NAME(centred_sq_sum)(const T *restrict v, T mu, long d) {
    T acc[LANES] = {0};
    long j = 0;
    for (; j + LANES <= d; j += LANES)
        for (int k = 0; k < LANES; k++) {
            T u = v[j + k] - mu;
            acc[k] += u * u;
        }
    for (int k = 0; j < d; j++, k++) {
        T u = v[j] - mu;
        acc[k] += u * u;
    }
    return COMBINE(acc);
}

/* Une valeur par canal recopiée sur ses s positions : (c,) → (c·s,). */
KERNEL static void NAME(spread)(T *restrict out, const T *restrict per_channel, long c, long s) {
    for (long k = 0; k < c; k++)
        for (long j = 0; j < s; j++) out[k * s + j] = per_channel[k];
}

/* Les sommes par colonne de la normalisation par lots, en double : col_j ← col_j + Σ_r (…)_rj sur
 * `rows` lignes consécutives de f valeurs, ajoutées dans l'ordre des lignes. Appelées par blocs de
 * ROWS lignes : la somme reste dans un registre le temps du bloc, au lieu d'un aller-retour en
 * mémoire par ligne. Le résultat est celui de l'addition ligne après ligne. */
static inline void NAME(add_rows)(double *restrict col, const T *restrict x, long rows, long f) {
    for (long j = 0; j < f; j++) {
        double a = col[j];
        for (long r = 0; r < rows; r++) a += x[r * f + j];
        col[j] = a;
    }
}

/* … la même chose pour (x − μ)², avec μ en double. */
static inline void NAME(add_sq_rows)(double *restrict col, const T *restrict x, const double *restrict mu,
                                     long rows, long f) {
    for (long j = 0; j < f; j++) {
        double a = col[j];
        for (long r = 0; r < rows; r++) {
            double u = x[r * f + j] - mu[j];
            a += u * u;
        }
        col[j] = a;
    }
}

#ifndef GATHER_DEFINED /* une seule fois, pour T = double (inclus en premier) */
#define GATHER_DEFINED
/* Sommes par canal de sommes par colonne : (c·s,) → (c,), en double. */
KERNEL static void gather(double *restrict out, const double *restrict per_column, long c, long s) {
    for (long k = 0; k < c; k++) out[k] = s == 1 ? per_column[k] : sum_f64(per_column + k * s, s);
}
#endif

/*
 * Normalisation par lots, aller, x vu en (n, c, s) (s = 1 pour une entrée (N, C)) :
 *   μ = Σ x / m (bn-eq-mean), σ² = Σ (x − μ)² / m (bn-eq-var), m = n·s ;
 *   y = (x − μ) · γ/√(σ² + ε) + β (bn-eq-normalise, bn-eq-scale-shift).
 * Écrit y, μ et 1/√(σ² + ε) ; si running_mean n'est pas NULL, met à jour les statistiques de
 * population comme PyTorch : r ← ρ s + (1 − ρ) r, avec la variance non biaisée m σ²/(m − 1)
 * (bn-eq-running, bn-eq-unbiased). Les sommes par colonne sont faites ligne après ligne, dans
 * l'ordre des lignes, et toujours en double : en float, m valeurs ajoutées l'une après l'autre
 * perdraient des chiffres sur μ, donc sur ∂L/∂γ quand |μ| ≫ σ.
 * Renvoie 0, ou 1 si la mémoire manque.
 */
KERNEL int NAME(bn_forward)(const T *restrict x, const T *restrict w, const T *restrict b, T *restrict y,
                     T *restrict mean, T *restrict invstd, T *restrict running_mean,
                     T *restrict running_var, long n, long c, long s, double eps, double momentum) {
    long f = c * s;
    double *col = malloc((2 * f + 2 * c) * sizeof(double) + 3 * f * sizeof(T)); /* les doubles, puis les T */
    if (!col) return 1;
    T *mu = (T *)(col + 2 * f + 2 * c), *scale = mu + f, *shift = mu + 2 * f;
    double *mu_acc = col + f, *mean_acc = col + 2 * f, *var_acc = mean_acc + c;
    double m = (double)(n * s);

    memset(col, 0, f * sizeof(double));
    long i = 0;
    for (; i + ROWS <= n; i += ROWS) NAME(add_rows)(col, x + i * f, ROWS, f);
    NAME(add_rows)(col, x + i * f, n - i, f);
    gather(mean_acc, col, c, s);
    for (long k = 0; k < c; k++) mean_acc[k] /= m;
    spread_f64(mu_acc, mean_acc, c, s);

    memset(col, 0, f * sizeof(double));
    for (i = 0; i + ROWS <= n; i += ROWS) NAME(add_sq_rows)(col, x + i * f, mu_acc, ROWS, f);
    NAME(add_sq_rows)(col, x + i * f, mu_acc, n - i, f);
    gather(var_acc, col, c, s); /* Σ (x − μ)² */
    for (long k = 0; k < c; k++) {
        double var = var_acc[k] / m;
        if (running_mean) {
            running_mean[k] = (T)(momentum * mean_acc[k] + (1.0 - momentum) * running_mean[k]);
            double unbiased = m > 1 ? var_acc[k] / (m - 1) : var;
            running_var[k] = (T)(momentum * unbiased + (1.0 - momentum) * running_var[k]);
        }
        mean[k] = (T)mean_acc[k];
        invstd[k] = (T)(1.0 / sqrt(var + eps));
    }
    NAME(spread)(mu, mean, c, s);
    for (long k = 0; k < c; k++)
        for (long j = 0; j < s; j++) {
            scale[k * s + j] = w[k] * invstd[k];
            shift[k * s + j] = b[k];
        }
    for (i = 0; i < n; i++) {
        const T *restrict xi = x + i * f;
        T *restrict yi = y + i * f;
        for (long j = 0; j < f; j++) yi[j] = (xi[j] - mu[j]) * scale[j] + shift[j];
    }
    free(col);
    return 0;
}

/* Début de l'extrait montré dans le chapitre (bn-code-c-backward). */
/* Les deux sommes par colonne du retour, ∂L/∂y et ∂L/∂y · (x − μ), lues ensemble et faites en double,
 * comme add_rows : `rows` lignes consécutives ajoutées dans l'ordre des lignes. */
static inline void NAME(add_grad_rows)(double *restrict sum_dy, double *restrict sum_dy_xc, const T *restrict dy,
                                       const T *restrict x, const T *restrict mu, long rows, long f) {
    for (long j = 0; j < f; j++) {
        double a = sum_dy[j], b = sum_dy_xc[j];
        for (long r = 0; r < rows; r++) {
            double g = dy[r * f + j];
            a += g;
            b += g * ((double)x[r * f + j] - mu[j]);
        }
        sum_dy[j] = a;
        sum_dy_xc[j] = b;
    }
}

/*
 * Normalisation par lots, retour (même vue (n, c, s)) :
 *   ∂L/∂β = Σ ∂L/∂y (bn-eq-grad-beta), ∂L/∂γ = Σ ∂L/∂y · x̂ (bn-eq-grad-gamma),
 *   ∂L/∂x = γ/σ · (∂L/∂y − Σ ∂L/∂y / m − (x − μ) · Σ ∂L/∂y (x − μ) / (m σ²)) (bn-eq-grad-x),
 * avec 1/σ = invstd. Les deux sommes (en double, comme à l'aller) en une lecture de ∂L/∂y et de x,
 * puis ∂L/∂x en une autre. dx peut valoir NULL (gradient de x inutile). Renvoie 0, ou 1 si la
 * mémoire manque.
 */
KERNEL int NAME(bn_backward)(const T *restrict dy, const T *restrict x, const T *restrict mean,
                      const T *restrict invstd, const T *restrict w, T *restrict dx, T *restrict dw,
                      T *restrict db, long n, long c, long s) {
    long f = c * s;
    double *acc = malloc((2 * f + 2 * c) * sizeof(double) + 4 * f * sizeof(T)); /* les doubles, puis les T */
    if (!acc) return 1;
    T *mean_dy = (T *)(acc + 2 * f + 2 * c), *mu = mean_dy + f, *scale = mean_dy + 2 * f, *proj = mean_dy + 3 * f;
    double *sum_dy = acc, *sum_dy_xc = acc + f, *db_acc = acc + 2 * f, *dw_acc = db_acc + c;
    double m = (double)(n * s);

    NAME(spread)(mu, mean, c, s);
    memset(acc, 0, 2 * f * sizeof(double));
    long i = 0;
    for (; i + ROWS <= n; i += ROWS) NAME(add_grad_rows)(sum_dy, sum_dy_xc, dy + i * f, x + i * f, mu, ROWS, f);
    NAME(add_grad_rows)(sum_dy, sum_dy_xc, dy + i * f, x + i * f, mu, n - i, f);
    gather(db_acc, sum_dy, c, s);
    gather(dw_acc, sum_dy_xc, c, s); /* Σ ∂L/∂y (x − μ), multiplié ci-dessous par 1/σ */
    for (long k = 0; k < c; k++) {
        db[k] = (T)db_acc[k];
        dw[k] = (T)(dw_acc[k] * invstd[k]);
        for (long j = 0; j < s; j++) {
            mean_dy[k * s + j] = (T)(db_acc[k] / m);                           /* moyenne de ∂L/∂y */
            proj[k * s + j] = (T)(dw_acc[k] * invstd[k] * invstd[k] / m);      /* Σ ∂L/∂y (x − μ) / (m σ²) */
            scale[k * s + j] = w[k] * invstd[k];                               /* γ/σ */
        }
    }
    if (dx)
        for (i = 0; i < n; i++) {
            const T *restrict gi = dy + i * f, *restrict xi = x + i * f;
            T *restrict o = dx + i * f;
            for (long j = 0; j < f; j++) o[j] = (gi[j] - mean_dy[j] - (xi[j] - mu[j]) * proj[j]) * scale[j];
        }
    free(acc);
    return 0;
}
/* Fin de l'extrait montré dans le chapitre. */

/*
 * Normalisation par couche, aller, x vu en (n, d) : pour chaque ligne, μ et σ² sur ses d valeurs
 * (bn-eq-mean, bn-eq-var), puis y = (x − μ)/√(σ² + ε) · γ + β. Écrit y, μ et 1/√(σ² + ε).
 */
KERNEL int NAME(ln_forward)(const T *restrict x, const T *restrict w, const T *restrict b, T *restrict y,
                     T *restrict mean, T *restrict rstd, long n, long d, double eps) {
    for (long i = 0; i < n; i++) {
        const T *restrict xi = x + i * d;
        T *restrict yi = y + i * d;
        T mu = NAME(sum)(xi, d) / (T)d;
        T r = (T)1 / (T)sqrt(NAME(centred_sq_sum)(xi, mu, d) / (T)d + (T)eps);
        mean[i] = mu;
        rstd[i] = r;
        for (long j = 0; j < d; j++) yi[j] = (xi[j] - mu) * r * w[j] + b[j];
    }
    return 0;
}

/*
 * Normalisation par couche, retour (bn-eq-ln-grad-x) : avec g = γ ⊙ ∂L/∂y et x̂ = (x − μ)/σ,
 *   ∂L/∂x = (g − moyenne(g) − x̂ · moyenne(g ⊙ x̂)) / σ, ligne par ligne ;
 *   ∂L/∂γ = Σ_lignes ∂L/∂y ⊙ x̂, ∂L/∂β = Σ_lignes ∂L/∂y (accumulés dans l'ordre des lignes).
 * Chaque ligne est lue une fois depuis la mémoire pour les sommes, puis relue dans le cache pour
 * ∂L/∂x. Les sommes d'une ligne se font par blocs de huit, avec un vecteur de huit accumulateurs
 * (extension vectorielle de GCC et Clang) : le même ordre que NAME(sum), en une seule boucle.
 */
KERNEL int NAME(ln_backward)(const T *restrict dy, const T *restrict x, const T *restrict mean,
                             const T *restrict rstd, const T *restrict w, T *restrict dx, T *restrict dw,
                             T *restrict db, long n, long d) {
    typedef T lanes __attribute__((vector_size(LANES * sizeof(T))));
    memset(dw, 0, d * sizeof(T));
    memset(db, 0, d * sizeof(T));
    for (long i = 0; i < n; i++) {
        const T *restrict gi = dy + i * d, *restrict xi = x + i * d;
        T *restrict o = dx + i * d;
        T mu = mean[i], r = rstd[i];
        lanes acc_g = {0}, acc_g_xhat = {0}; /* Σ g et Σ g ⊙ x̂ sur la ligne */
        long j = 0;
        for (; j + LANES <= d; j += LANES) {
            lanes xv, gv, wv, dwv, dbv; /* memcpy : lectures sans hypothèse d'alignement */
            memcpy(&xv, xi + j, sizeof xv);
            memcpy(&gv, gi + j, sizeof gv);
            memcpy(&wv, w + j, sizeof wv);
            memcpy(&dwv, dw + j, sizeof dwv);
            memcpy(&dbv, db + j, sizeof dbv);
            lanes h = (xv - mu) * r, g = gv * wv;
            dwv += gv * h;
            dbv += gv;
            acc_g += g;
            acc_g_xhat += g * h;
            memcpy(dw + j, &dwv, sizeof dwv);
            memcpy(db + j, &dbv, sizeof dbv);
        }
        for (int k = 0; j < d; j++, k++) {
            T h = (xi[j] - mu) * r, g = gi[j] * w[j];
            dw[j] += gi[j] * h;
            db[j] += gi[j];
            acc_g[k] += g;
            acc_g_xhat[k] += g * h;
        }
        T mean_g = COMBINE(acc_g) / (T)d, mean_g_xhat = COMBINE(acc_g_xhat) / (T)d;
        for (j = 0; j < d; j++) o[j] = (gi[j] * w[j] - mean_g - (xi[j] - mu) * r * mean_g_xhat) * r;
    }
    return 0;
}

#endif
