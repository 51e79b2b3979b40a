// What the page's two modes share: app.js (the room application) and mesh.js
// (the mesh overlay, docs/mesh.md).
'use strict';
window.pageKit = (() => {
  const $ = (id) => document.getElementById(id);

  // Creates an element; `props` are assigned as properties (never innerHTML,
  // since ids, messages and file names come from other peers).
  function el(tag, props = {}, ...children) {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  }

  // A log function: each line goes to `entries` (for tests), the console
  // (tagged `prefix`) and the element `id`, with the time.
  function logger(prefix, entries, id) {
    return (text) => {
      entries.push(text);
      console.log(`[${prefix}] ${text}`);
      $(id).textContent += `${new Date().toLocaleTimeString()} ${text}\n`;
    };
  }

  return { $, el, logger };
})();
