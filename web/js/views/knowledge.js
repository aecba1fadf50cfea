// views/knowledge.js - knowledge collections (#/knowledge, #/knowledge/ID):
// the collections a user may use; for owners and writers the documents
// with their status and per-file errors, uploading many files at once with
// a progress bar each (one request per file, X-Filename header), delete and
// re-index; for admins creating collections with owner/writer/reader
// groups and binding a folder that is synchronised.

import { api } from '../api.js';
import { formatDate, formatNumber } from '../i18n.js';
import { h, button, icon, toast, openDialog, field, announce } from '../dom.js';
import { kt } from '../knowledge_ui.js';

function sizeText(n) {
  if (n >= 1048576) return `${formatNumber(Math.round(n / 104857.6) / 10)} MB`;
  if (n >= 1024) return `${formatNumber(Math.round(n / 1024))} KB`;
  return `${formatNumber(n)} B`;
}

function statusText(s, msg) {
  if (s === 'done' && msg === 'unverändert') return kt('unchanged');
  return kt(s === 'ok' ? 'done' : s) || s;
}

/** POST one file with upload progress (fetch has none). */
function uploadFile(collId, file, csrf, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', `/api/collections/${collId}/documents`);
    x.setRequestHeader('X-CSRF-Token', csrf);
    x.setRequestHeader('X-Filename', encodeURIComponent(file.name));
    x.setRequestHeader('Content-Type', 'application/octet-stream');
    x.upload.onprogress = (ev) => { if (ev.lengthComputable) onProgress(ev.loaded / ev.total); };
    x.onload = () => {
      let body = null;
      try { body = JSON.parse(x.responseText); } catch { /* not JSON */ }
      if (x.status === 202) resolve(body);
      else reject(new Error((body && body.error && body.error.message) || `HTTP ${x.status}`));
    };
    x.onerror = () => reject(new Error('network'));
    x.send(file);
  });
}

export function knowledgeView(ctx, params) {
  const el = h('section', { class: 'page kn-page' });
  let timer = null;
  let groups = null;

  async function loadGroups() {
    if (groups || !ctx.isAdmin()) return groups || [];
    try { groups = (await api.get('/api/admin/groups')).groups || []; } catch { groups = []; }
    return groups;
  }

  function groupChecks(legend, chosen) {
    const fs = h('fieldset', { class: 'kn-groups' }, h('legend', null, legend));
    const boxes = [];
    for (const g of groups || []) {
      const id = `kn-g-${legend.length}-${g.id}-${Math.random().toString(36).slice(2, 7)}`;
      const cb = h('input', { type: 'checkbox', id, value: String(g.id), checked: (chosen || []).includes(g.id) });
      boxes.push(cb);
      fs.append(h('span', { class: 'kn-coll-check' }, cb, h('label', { for: id }, g.name)));
    }
    fs.values = () => boxes.filter((b) => b.checked).map((b) => Number(b.value));
    return fs;
  }

  async function editCollection(c) {
    await loadGroups();
    const name = field(kt('name'), { name: 'name', value: c ? c.name : '', required: true, maxlength: 200 });
    const desc = field(kt('description'), { type: 'textarea', name: 'description', value: c ? c.description : '', rows: 2 });
    const own = groupChecks(kt('owners'), c && c.owners);
    const wr = groupChecks(kt('writers'), c && c.writers);
    const rd = groupChecks(kt('readers'), c && c.readers);
    const res = await openDialog({
      title: c ? c.name : kt('new_collection'), wide: true,
      content: [name, desc, ctx.isAdmin() || (c && c.right === 'owner') ? [own, wr, rd] : null],
      actions: [{ label: kt('cancel'), value: 'cancel' }, { label: kt('save'), value: 'ok', kind: 'primary' }],
    });
    if (res !== 'ok') return;
    const body = { name: name.querySelector('input').value, description: desc.querySelector('textarea').value };
    if (groups && groups.length) Object.assign(body, { owners: own.values(), writers: wr.values(), readers: rd.values() });
    try {
      const saved = c ? await api.patch(`/api/collections/${c.id}`, body) : await api.post('/api/collections', body);
      toast(kt('save'));
      ctx.navigate(`#/knowledge/${saved.id}`);
      if (c) render(params);
    } catch (e) { toast(e.message, 'error'); }
  }

  async function listPage() {
    let res;
    try { res = await api.get('/api/collections'); } catch (e) {
      el.replaceChildren(h('h1', { tabindex: '-1' }, kt('knowledge_title')), h('p', { class: 'notice notice-error', role: 'alert' }, e.message));
      return;
    }
    const cs = res.collections || [];
    el.replaceChildren(...[
      h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, kt('knowledge_title')),
        h('a', { href: '#/search', class: 'btn btn-primary' }, icon('search'), h('span', { class: 'btn-label' }, kt('nav_search'))),
        ctx.isAdmin() ? button(kt('new_collection'), { kind: 'secondary', icon: 'plus', onclick: () => editCollection(null) }) : null),
      res.dense ? h('p', { class: 'small muted' }, kt('dense')) : null,
      cs.length
        ? h('ul', { class: 'kn-coll-list' }, cs.map((c) => h('li', { class: 'card kn-coll' },
          h('h2', null, h('a', { href: `#/knowledge/${c.id}` }, c.name)),
          c.description ? h('p', null, c.description) : null,
          h('p', { class: 'small muted' }, `${formatNumber(c.documents)} ${kt('documents')} · ${formatNumber(c.chunks)} ${kt('chunks')}`,
            c.documents_error ? h('span', { class: 'kn-err' }, ` · ${formatNumber(c.documents_error)} ${kt('error')}`) : null,
            ' · ', kt('right_' + c.right)))))
        : h('p', { class: 'muted' }, kt('docs_none'))].filter(Boolean));
  }

  async function detailPage(id) {
    let c, d;
    try {
      c = await api.get(`/api/collections/${id}`);
      d = await api.get(`/api/collections/${id}/documents`);
    } catch (e) {
      el.replaceChildren(h('p', null, h('a', { href: '#/knowledge' }, kt('back'))), h('p', { class: 'notice notice-error', role: 'alert' }, e.message));
      return;
    }
    const canWrite = c.right === 'owner' || c.right === 'writer';
    const progress = h('ul', { class: 'kn-progress', 'aria-live': 'polite' });
    const fileInput = h('input', { type: 'file', id: 'kn-files', multiple: true, class: 'visually-hidden' });
    fileInput.addEventListener('change', async () => {
      const files = [...fileInput.files];
      fileInput.value = '';
      if (!files.length) return;
      let csrf = '';
      try { csrf = (await api.get('/api/session')).csrf; } catch (e) { toast(e.message, 'error'); return; }
      for (const f of files) { /* one after the other: the server indexes in the background */
        const bar = h('progress', { max: 1, value: 0 });
        const note = h('span', { class: 'small' }, kt('uploading'));
        progress.append(h('li', null, h('span', { class: 'kn-pname' }, f.name), ' ', bar, ' ', note));
        try {
          await uploadFile(c.id, f, csrf, (p) => { bar.value = p; });
          bar.value = 1;
          note.textContent = kt('queued');
        } catch (e) {
          note.textContent = `${kt('error')}: ${e.message}`;
          note.classList.add('kn-err');
        }
      }
      announce(kt('queued'));
      poll();
    });
    const jobs = d.jobs || [];
    const docs = d.documents || [];
    const openJobs = jobs.filter((j) => j.status === 'queued' || j.status === 'running');
    el.replaceChildren(...[
      h('p', null, h('a', { href: '#/knowledge' }, '← ', kt('collections'))),
      h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, c.name),
        c.right === 'owner' ? button(kt('edit'), { kind: 'ghost', icon: 'edit', onclick: () => editCollection(c) }) : null,
        c.right === 'owner' ? button(kt('delete'), { kind: 'ghost', icon: 'trash', onclick: () => removeCollection(c) }) : null),
      c.description ? h('p', null, c.description) : null,
      canWrite ? h('section', { class: 'card kn-upload' },
        h('label', { for: 'kn-files', class: 'btn btn-primary' }, icon('plus'), ' ', kt('upload')),
        fileInput, h('p', { class: 'small muted' }, kt('upload_help')), progress,
        c.synced ? button(kt('sync'), { small: true, kind: 'ghost', icon: 'refresh', onclick: async () => { await api.post(`/api/collections/${c.id}/sync`); poll(); } }) : null) : null,
      ctx.isAdmin() ? folderForm(c) : null,
      h('h2', null, kt('documents')),
      docs.length ? h('table', { class: 'table kn-docs' },
        h('thead', null, h('tr', null, h('th', null, kt('name')), h('th', null, kt('status')), h('th', null, kt('chunks')), h('th', null, kt('size')), h('th', null, ''))),
        h('tbody', null, docs.map((x) => h('tr', null,
          h('td', null, h('a', { href: x.url, target: '_blank', rel: 'noopener' }, x.name), x.title && x.title !== x.name ? h('div', { class: 'small muted' }, x.title) : null),
          h('td', null, x.status === 'error' ? h('span', { class: 'kn-err' }, icon('warning'), ' ', x.error || kt('error')) : kt('done'),
            h('div', { class: 'small muted' }, formatDate(x.ingested_at))),
          h('td', null, formatNumber(x.chunks)),
          h('td', null, sizeText(x.size)),
          h('td', null, canWrite ? [
            button(kt('reindex'), { small: true, kind: 'ghost', icon: 'refresh', iconOnly: true, onclick: async () => { await api.post(`/api/documents/${x.id}/reindex`); poll(); } }),
            button(kt('delete'), { small: true, kind: 'ghost', icon: 'trash', iconOnly: true, onclick: () => removeDoc(x) })] : null)))))
        : h('p', { class: 'muted' }, kt('docs_none')),
      canWrite && jobs.length ? h('details', { class: 'kn-jobs', open: openJobs.length > 0 || undefined },
        h('summary', null, `${kt('jobs')} (${openJobs.length})`),
        h('ul', null, jobs.slice(0, 50).map((j) => h('li', { class: j.status === 'error' ? 'kn-err' : '' },
          h('strong', null, j.name), ' – ', statusText(j.status, j.message),
          j.status === 'error' && j.message ? `: ${j.message}` : '')))) : null].filter(Boolean));
    if (openJobs.length) poll();
  }

  function folderForm(c) {
    const f = field(kt('folder'), { name: 'folder', value: c.folder || '', help: kt('folder_help') });
    return h('form', { class: 'card kn-folder', onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api.put(`/api/collections/${c.id}/folder`, { folder: f.querySelector('input').value || null });
        toast(kt('save'));
        render(params);
      } catch (e) { toast(e.message, 'error'); }
    } }, f, button(kt('folder_set'), { type: 'submit', small: true }));
  }

  async function removeCollection(c) {
    const r = await openDialog({ title: kt('delete'), content: [h('p', null, kt('delete_q', { name: c.name }))],
      actions: [{ label: kt('cancel'), value: 'cancel' }, { label: kt('delete'), value: 'ok', kind: 'danger' }] });
    if (r !== 'ok') return;
    try { await api.del(`/api/collections/${c.id}`); ctx.navigate('#/knowledge'); } catch (e) { toast(e.message, 'error'); }
  }

  async function removeDoc(x) {
    const r = await openDialog({ title: kt('delete'), content: [h('p', null, kt('delete_doc_q', { name: x.name }))],
      actions: [{ label: kt('cancel'), value: 'cancel' }, { label: kt('delete'), value: 'ok', kind: 'danger' }] });
    if (r !== 'ok') return;
    try { await api.del(`/api/documents/${x.id}`); render(params); } catch (e) { toast(e.message, 'error'); }
  }

  function poll() {
    clearTimeout(timer);
    timer = setTimeout(() => { if (el.isConnected) render(params); }, 1500);
  }

  function render(p) {
    params = p || {};
    return params.id ? detailPage(params.id) : listPage();
  }

  render(params);
  return { el, title: kt('nav_knowledge'), update: render, destroy: () => clearTimeout(timer) };
}
