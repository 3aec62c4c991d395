// Embed margan on any page:
//   <script type="module" src="https://YOUR.SITE/margan/embed.js"></script>
//   <margan-sampler src="https://YOUR.SITE/margan/demo/shapes.margan"></margan-sampler>
//   <margan-playground></margan-playground>
// The module loads margan-app.js / margan-app_bg.wasm from the folder this file is served from.
const base = new URL('.', import.meta.url);
let ready = null;
function load() {
  if (!ready) {
    ready = import(new URL('margan-app.js', base).href).then(async (m) => {
      await m.default({ module_or_path: new URL('margan-app_bg.wasm', base) });
      return m;
    });
  }
  return ready;
}
function define(name, mount) {
  if (customElements.get(name)) return;
  customElements.define(name, class extends HTMLElement {
    async connectedCallback() {
      if (this.mounted) return;
      this.mounted = true;
      try {
        const m = await load();
        const src = this.getAttribute('src');
        await mount(m, this, src ? new URL(src, document.baseURI).href : new URL('demo/shapes.margan', base).href);
      } catch (e) {
        const box = document.createElement('div');
        box.className = 'error';
        box.textContent = 'margan: ' + (e && e.message ? e.message : e);
        this.appendChild(box);
      }
    }
  });
}
define('margan-sampler', (m, el, src) => m.mount_sampler(el, src));
define('margan-playground', (m, el) => m.mount_playground(el));
