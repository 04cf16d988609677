// Boutons « afficher / masquer » de sphinx-togglebutton (solutions, blocs repliables) :
// le script du paquet écrit aria-label="Toggle hidden content" en dur. On le remplace par un nom
// français, après lui (ce fichier est chargé après togglebutton.js, donc son écouteur passe après).
(() => {
  const NOM = "Afficher ou masquer le contenu";
  const traduire = () => {
    document.querySelectorAll('.toggle-button[aria-label="Toggle hidden content"]').forEach((b) => {
      b.setAttribute("aria-label", NOM);
    });
  };
  if (document.readyState !== "loading") {
    traduire();
  } else {
    document.addEventListener("DOMContentLoaded", traduire);
  }
  window.addEventListener("load", traduire);
})();
