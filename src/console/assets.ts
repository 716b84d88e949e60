import { Hono } from 'hono';
import type { AppEnv } from '../env';

/**
 * The console's stylesheet and its one small script, served from the Worker itself so the pages'
 * Content-Security-Policy can stay `default-src 'self'` with no inline style or script.
 */

const CSS = `
:root { color-scheme: light dark; --bg: #f6f7f9; --panel: #ffffff; --text: #1b1f24; --muted: #545d68; --line: #d5dae0;
  --accent: #1d5fd1; --accent-text: #ffffff; --bar: #1d5fd1; --bar-over: #b3261e; --track: #e3e7ec; --ok: #1f6f3a; --bad: #b3261e;
  --focus: #f2a900; --code: #eef1f4; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #111418; --panel: #1a1e24; --text: #e8eaed; --muted: #aab3bd; --line: #343b45; --accent: #7fb0ff;
    --accent-text: #0b1a33; --bar: #7fb0ff; --bar-over: #ff8a80; --track: #2b323b; --ok: #7fd69b; --bad: #ff8a80; --focus: #ffd166; --code: #232a33; }
}
* { box-sizing: border-box; }
html { font-size: 16px; }
body { margin: 0; background: var(--bg); color: var(--text); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--panel); padding: .5rem 1rem; z-index: 10; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .75rem 1.5rem; background: var(--panel); border-bottom: 1px solid var(--line); }
header.top .brand { font-weight: 700; font-size: 1.1rem; color: var(--text); text-decoration: none; }
nav.main ul { display: flex; flex-wrap: wrap; gap: .25rem; margin: 0; padding: 0; list-style: none; }
nav.main a { display: block; padding: .35rem .7rem; border-radius: 6px; text-decoration: none; color: var(--text); }
nav.main a[aria-current="page"] { background: var(--accent); color: var(--accent-text); }
.who { margin-left: auto; display: flex; align-items: center; gap: .75rem; color: var(--muted); font-size: .9rem; }
main { max-width: 1200px; margin: 0 auto; padding: 1.25rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: .25rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 0 0 .75rem; }
section.panel, details.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 1rem 1.25rem; margin-bottom: 1.25rem; }
details.panel summary { cursor: pointer; font-weight: 600; font-size: 1.05rem; }
details.panel[open] summary { margin-bottom: .75rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 1.25rem; }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 1rem; margin-bottom: 1.25rem; }
.stat { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: .75rem 1rem; }
.stat .label { color: var(--muted); font-size: .85rem; }
.stat .value { font-size: clamp(1.05rem, 4.2vw, 1.4rem); font-weight: 650; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: var(--muted); padding-bottom: .4rem; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: .85rem; }
td.num, th.num { text-align: right; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; }
code { background: var(--code); padding: .05rem .3rem; border-radius: 4px; overflow-wrap: anywhere; }
td code, th code, .nowrap { white-space: nowrap; }
td.mono { min-width: 17rem; max-width: 26rem; overflow-wrap: anywhere; font-size: .8rem; }
form.inline { display: inline; }
fieldset.choices { grid-column: 1 / -1; border: 1px solid var(--line); border-radius: 6px; padding: .5rem .75rem; margin: 0; display: flex; flex-wrap: wrap; gap: .4rem 1.1rem; }
fieldset.choices legend { color: var(--muted); font-size: .9rem; padding: 0 .25rem; }
label.check { display: inline-flex; align-items: center; gap: .35rem; color: var(--text); }
form.stack { display: grid; gap: .75rem; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); align-items: end; }
label { display: grid; gap: .25rem; font-size: .9rem; color: var(--muted); }
input, select { font: inherit; color: var(--text); background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: .4rem .55rem; min-width: 0; }
button, .button { font: inherit; cursor: pointer; border-radius: 6px; padding: .4rem .8rem; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-text); text-decoration: none; display: inline-block; }
button.secondary, .button.secondary { background: transparent; color: var(--accent); }
button.danger { background: transparent; color: var(--bad); border-color: var(--bad); }
.notice { border-radius: 8px; padding: .75rem 1rem; margin-bottom: 1rem; border: 1px solid var(--line); background: var(--panel); }
.notice.error { border-color: var(--bad); }
.notice.error strong { color: var(--bad); }
.notice.ok { border-color: var(--ok); }
.secret { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin-top: .5rem; }
.empty { color: var(--muted); padding: .5rem 0; }
.hint { color: var(--muted); font-size: .85rem; margin: .25rem 0 0; }
.chart { width: 100%; height: auto; display: block; }
.chart text { fill: var(--muted); font-size: 13px; }
.chart .bar { fill: var(--bar); }
.chart .over { fill: var(--bar-over); }
.chart .track { fill: var(--track); }
.chart .axis { stroke: var(--line); }
.chart .name { fill: var(--text); font-size: 14px; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 150px)); gap: 1rem; list-style: none; padding: 0; margin: 0; }
.gallery figure { margin: 0; background: var(--bg); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
.gallery img, .gallery .noimg { width: 100%; height: auto; aspect-ratio: 1; object-fit: cover; display: block; background: var(--track); }
.gallery .noimg { display: grid; place-items: center; color: var(--muted); font-size: .8rem; padding: .5rem; text-align: center; }
.gallery figcaption { padding: .5rem .6rem; font-size: .8rem; display: grid; gap: .1rem; }
.gallery .prompt { color: var(--text); font-weight: 550; overflow-wrap: anywhere; }
.gallery .meta { color: var(--muted); }
.pager { display: flex; gap: 1rem; margin-top: .75rem; }
.signin { max-width: 440px; margin: 10vh auto; background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 1.5rem; }
.signin form { display: grid; gap: 1rem; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: 999px; border: 1px solid var(--line); font-size: .8rem; color: var(--muted); }
.badge.bad { color: var(--bad); border-color: var(--bad); }
.actions { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; }
main > .actions { margin-bottom: 1rem; }
td .actions { flex-wrap: nowrap; }
td .actions label { display: inline-flex; align-items: center; gap: .35rem; white-space: nowrap; }
td .actions input { width: 5rem; }
@media (max-width: 640px) {
  header.top { padding: .6rem 1rem; }
  .who { margin-left: 0; width: 100%; justify-content: space-between; }
  main { padding: 1rem .75rem 2rem; }
  section.panel, details.panel { padding: .8rem .8rem; }
  .signin { margin: 4vh .75rem; padding: 1rem; }
  /* columns a phone can do without: the page or the row says the same elsewhere */
  .wide-only { display: none; }
  th, td { padding: .4rem .4rem; }
}
`;

/** Copy-to-clipboard for a new key's plaintext: the one place the console needs a script. */
const JS = `
document.addEventListener('click', function (event) {
  var button = event.target.closest('button[data-copy]');
  if (!button) return;
  var source = document.getElementById(button.getAttribute('data-copy'));
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    button.textContent = 'Copied';
    setTimeout(function () { button.textContent = 'Copy'; }, 2000);
  });
});
`;

export const CSS_PATH = '/console/assets/console.css';
export const JS_PATH = '/console/assets/console.js';

export const assetRoutes = new Hono<AppEnv>();
const served = (body: string, type: string) => () =>
  new Response(body, { headers: { 'Content-Type': type, 'Cache-Control': 'public, max-age=300', 'X-Content-Type-Options': 'nosniff' } });
assetRoutes.get('/assets/console.css', served(CSS, 'text/css; charset=utf-8'));
assetRoutes.get('/assets/console.js', served(JS, 'text/javascript; charset=utf-8'));
