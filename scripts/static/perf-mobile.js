/* Le site sur téléphone et au clavier (voir mobile.css et scripts/profond_perf.py).
 *
 * 1. Cadres qui défilent (formules, tableaux, code, sorties) : quand le contenu dépasse, le cadre
 *    reçoit data-deborde="droite|gauche|deux" (le bord concerné s'estompe) et tabindex="0" (on le
 *    fait défiler au clavier). Mis à jour par un ResizeObserver (au chargement, quand MathJax a
 *    composé une formule, quand l'écran tourne) et au défilement du cadre.
 * 2. Figures réduites sous 75 % de leur taille : un toucher les montre en taille réelle dans un
 *    cadre qui défile, un second les remet à la largeur de la colonne.
 * 3. Nom accessible des boutons : quand aria-label ne contient pas le texte visible (règle
 *    WCAG 2.5.3 « label-content-name-mismatch »), le texte visible est mis en tête du nom.
 *
 * Les formules (composées à la construction) sont toutes suivies par un ResizeObserver dès le
 * chargement ; les autres cadres ne sont mesurés que quand ils approchent de l'écran
 * (IntersectionObserver), puis suivis ; les lectures de mise en page précèdent les écritures.
 */
(function () {
  "use strict";
  var CADRES = [
    ".bd-article div.math",
    ".bd-article .pst-scrollable-table-container",
    ".bd-article .cell_output .output.text_html",
    ".bd-article div.highlight pre",
    ".bd-article .cell_output pre",
    ".bd-article pre.literal-block"
  ].join(",");
  var SEUIL_REDUITE = 0.75;

  function nomDuCadre(el) {
    if (el.classList.contains("perf-figure")) return "Figure en taille réelle (défile horizontalement)";
    if (el.querySelector("table")) return "Tableau (défile horizontalement)";
    return "Code (défile horizontalement)";
  }

  // Une formule défile dans son mjx-container (créé par MathJax quand il compose la formule).
  function defilant(el) {
    return el.matches("div.math") ? el.querySelector("mjx-container") : el;
  }

  function lire(el) {
    var d = defilant(el);
    return d ? {el: d, sw: d.scrollWidth, cw: d.clientWidth, sl: d.scrollLeft} : {el: null};
  }

  function ecrire(m) {
    var el = m.el;
    if (!el) return;
    var etat = "";
    if (m.sw - m.cw > 1) {
      var gauche = m.sl > 1, droite = m.sl + m.cw < m.sw - 1;
      etat = gauche && droite ? "deux" : (gauche ? "gauche" : (droite ? "droite" : "fin"));
    }
    if (!etat) {
      if (el.hasAttribute("data-deborde")) el.removeAttribute("data-deborde");
      return;
    }
    if (etat === "fin") el.removeAttribute("data-deborde");
    else if (el.getAttribute("data-deborde") !== etat) el.setAttribute("data-deborde", etat);
    if (!el.hasAttribute("tabindex")) {
      el.setAttribute("tabindex", "0");
      if (!el.matches("mjx-container") && !el.hasAttribute("aria-label")) {
        el.setAttribute("role", "group");
        el.setAttribute("aria-label", nomDuCadre(el));
      }
      el.addEventListener("scroll", function () { ecrire(lire(el)); }, {passive: true});
    }
  }

  function figure(img, largeur) {
    var boite = img.parentElement;
    if (!boite || !boite.classList.contains("perf-figure") || !img.naturalWidth || !largeur) return;
    if (boite.classList.contains("perf-taille-reelle")) return;
    if (largeur / img.naturalWidth < SEUIL_REDUITE) boite.setAttribute("data-reduite", "");
    else boite.removeAttribute("data-reduite");
  }

  function envelopper(img) {
    if (img.closest(".animation, a, .perf-figure")) return false;
    var boite = document.createElement("span");
    boite.className = "perf-figure";
    img.parentNode.insertBefore(boite, img);
    boite.appendChild(img);
    img.addEventListener("click", function () {
      if (!boite.hasAttribute("data-reduite") && !boite.classList.contains("perf-taille-reelle")) return;
      var reelle = boite.classList.toggle("perf-taille-reelle");
      img.style.width = reelle ? img.naturalWidth + "px" : "";
      if (!reelle) boite.setAttribute("data-reduite", "");
      window.requestAnimationFrame(function () { ecrire(lire(boite)); });
    });
    return true;
  }

  function nomsAccessibles() {
    document.querySelectorAll("button[aria-label], summary[aria-label], a[aria-label]").forEach(function (el) {
      var visible = (el.textContent || "").replace(/\s+/g, " ").trim();
      var nom = el.getAttribute("aria-label");
      // Les symboles seuls (icônes, ▶, +) ne sont pas un texte visible au sens de WCAG 2.5.3.
      if (!visible || !/[A-Za-zÀ-ÿ0-9]{2,}/.test(visible)) return;
      if (nom.toLowerCase().indexOf(visible.toLowerCase()) === -1) el.setAttribute("aria-label", visible + " — " + nom);
    });
  }

  function demarrer() {
    nomsAccessibles();
    if (!("ResizeObserver" in window) || !("IntersectionObserver" in window)) return;
    // Une fois observé, un élément est suivi par le ResizeObserver (composition par MathJax,
    // rotation de l'écran) ; on ne s'occupe d'un élément que quand il approche de l'écran.
    var ro = new ResizeObserver(function (entrees) {
      var mesures = [], figures = [];
      entrees.forEach(function (e) {
        if (e.target.tagName === "IMG") figures.push([e.target, e.contentRect.width]);
        else mesures.push(lire(e.target));
      });
      mesures.forEach(ecrire);
      figures.forEach(function (f) { figure(f[0], f[1]); });
    });
    // Les formules sont composées à la construction (profond_maths) : toutes sont là dès le
    // chargement, et un cadre qui défile doit être atteignable au clavier même hors de l'écran.
    // Le ResizeObserver les mesure toutes une première fois, puis à chaque changement de taille.
    document.querySelectorAll(".bd-article div.math").forEach(function (el) { ro.observe(el); });
    var io = new IntersectionObserver(function (entrees) {
      entrees.forEach(function (e) {
        if (!e.isIntersecting) return;
        io.unobserve(e.target);
        if (e.target.tagName === "IMG" && !envelopper(e.target)) return;
        ro.observe(e.target);
      });
    }, {rootMargin: "100% 0px"});
    document.querySelectorAll(CADRES + ", .bd-article img").forEach(function (el) {
      if (!el.matches("div.math")) io.observe(el);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", demarrer);
  else demarrer();
})();
