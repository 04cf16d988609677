// Compose les formules du cours en SVG au moment de la construction (MathJax 3, le même moteur
// que dans le navigateur) : les pages arrivent avec leurs formules déjà dessinées, sans script.
//
// Protocole (utilisé par scripts/profond_maths.py) : une ligne JSON par page sur l'entrée standard,
//   {"formules": [{"tex": "...", "display": true|false}, ...]}
// et une ligne JSON par page en réponse, dans le même ordre :
//   {"html": ["<mjx-container ...>", ...], "defs": "<svg ...>", "erreurs": [[indice, message], ...]}
// "defs" contient les glyphes utilisés par la page (cache de police « global » : chaque glyphe n'est
// écrit qu'une fois par page, les formules y renvoient par <use>). Chaque formule porte sa
// traduction MathML (mjx-assistive-mml) pour les lecteurs d'écran.
// Avec l'argument --css, écrit seulement la feuille de style des formules et s'arrête.
"use strict";
const readline = require("readline");
const { mathjax } = require("mathjax-full/js/mathjax.js");
const { TeX } = require("mathjax-full/js/input/tex.js");
const { SVG } = require("mathjax-full/js/output/svg.js");
const { liteAdaptor } = require("mathjax-full/js/adaptors/liteAdaptor.js");
const { RegisterHTMLHandler } = require("mathjax-full/js/handlers/html.js");
const { AssistiveMmlHandler } = require("mathjax-full/js/a11y/assistive-mml.js");
const { AllPackages } = require("mathjax-full/js/input/tex/AllPackages.js");

const adaptor = liteAdaptor();
AssistiveMmlHandler(RegisterHTMLHandler(adaptor));
// Pas de « noundefined » : une commande inconnue est une erreur signalée, pas un texte rouge.
const PACKAGES = AllPackages.filter((p) => !["noundefined", "bussproofs"].includes(p));

function page() {
  const tex = new TeX({
    packages: PACKAGES,
    formatError: (jax, err) => { throw err; },
  });
  const svg = new SVG({ fontCache: "global" });
  return { svg, doc: mathjax.document("", { InputJax: tex, OutputJax: svg }) };
}

if (process.argv.includes("--css")) {
  const { svg, doc } = page();
  process.stdout.write(adaptor.textContent(svg.styleSheet(doc)) + "\n");
  process.exit(0);
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const { formules } = JSON.parse(line);
  const { svg, doc } = page();
  const html = [];
  const erreurs = [];
  formules.forEach((f, i) => {
    try {
      const node = doc.convert(f.tex, { display: !!f.display, em: 16, ex: 8, containerWidth: 1280 });
      html.push(adaptor.outerHTML(node));
    } catch (err) {
      html.push(null);
      erreurs.push([i, String((err && err.message) || err)]);
    }
  });
  const cache = svg.fontCache.getCache();
  const defs = adaptor.childNodes(cache).length
    ? `<svg id="MJX-SVG-global-cache" style="display: none" aria-hidden="true">${adaptor.outerHTML(cache)}</svg>`
    : "";
  process.stdout.write(JSON.stringify({ html, defs, erreurs }) + "\n");
});
