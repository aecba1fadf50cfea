// knowledge_ui.js - the pieces of the knowledge subsystem that other views
// use: the UI strings of the knowledge pages (German first), the collection
// picker of the chat composer, the sources block under a grounded answer
// (title, section, page, excerpt, link that opens the document there) and
// the hint for answers without sources (links the academy lesson
// "halluzinationen"). docs/api.md, section "Knowledge".

import { api } from './api.js';
import { getLang } from './i18n.js';
import { h, icon } from './dom.js';

const STRINGS = {
  de: {
    nav_knowledge: 'Wissen',
    nav_search: 'Suche',
    sources: 'Quellen',
    source_page: 'S. {n}',
    open: 'Öffnen',
    no_sources: 'Zu dieser Frage wurden in den ausgewählten Quellen keine passenden Stellen gefunden. Antworten ohne Quellen bitte immer selbst prüfen.',
    no_sources_lesson: 'Lektion „Halluzinationen“',
    pick: 'Sammlungen',
    pick_none: 'ohne Dokumente',
    pick_count: '{n} Sammlung(en)',
    pick_help: 'Antworten mit Quellen aus diesen Sammlungen',
    search_title: 'Suche in den Dokumenten',
    search_label: 'Suchbegriffe oder Frage',
    search_go: 'Suchen',
    search_all: 'Alle Sammlungen',
    search_none: 'Keine passenden Stellen gefunden.',
    search_weak: 'Nur schwache Treffer: Die Dokumente beantworten diese Frage wahrscheinlich nicht.',
    results: '{n} Treffer',
    knowledge_title: 'Wissenssammlungen',
    collections: 'Sammlungen',
    new_collection: 'Neue Sammlung',
    name: 'Name',
    description: 'Beschreibung',
    owners: 'Verantwortliche Gruppen (verwalten)',
    writers: 'Gruppen, die Dokumente hochladen dürfen',
    readers: 'Gruppen, die lesen und suchen dürfen',
    save: 'Speichern',
    edit: 'Bearbeiten',
    cancel: 'Abbrechen',
    delete: 'Löschen',
    delete_q: 'Sammlung „{name}“ mit allen Dokumenten löschen?',
    delete_doc_q: 'Dokument „{name}“ löschen?',
    documents: 'Dokumente',
    docs_none: 'Noch keine Dokumente.',
    upload: 'Dateien hochladen',
    upload_help: 'PDF, DOCX, ODT, TXT, Markdown, HTML, E-Mail (EML), XLSX, ODS, CSV, Bilder – mehrere auf einmal möglich.',
    uploading: 'wird hochgeladen',
    queued: 'wartet auf Indexierung',
    running: 'wird indexiert',
    done: 'indexiert',
    error: 'Fehler',
    unchanged: 'unverändert',
    reindex: 'Neu indexieren',
    status: 'Status',
    chunks: 'Abschnitte',
    size: 'Größe',
    jobs: 'Verarbeitung',
    folder: 'Gebundener Ordner (nur Administration)',
    folder_help: 'Der Ordner wird regelmäßig abgeglichen: neue, geänderte und gelöschte Dateien werden erkannt. Er muss in knowledge_roots liegen.',
    folder_set: 'Ordner binden',
    sync: 'Jetzt abgleichen',
    right_owner: 'verantwortlich',
    right_writer: 'darf hochladen',
    right_reader: 'darf lesen',
    select_hint: 'Wählen Sie eine Sammlung.',
    dense: 'Suche mit Bedeutungsvektoren aktiv',
    back: 'Zurück',
  },
  en: {
    nav_knowledge: 'Knowledge',
    nav_search: 'Search',
    sources: 'Sources',
    source_page: 'p. {n}',
    open: 'Open',
    no_sources: 'Nothing matching this question was found in the selected sources. Always check answers without sources yourself.',
    no_sources_lesson: 'lesson "Hallucinations"',
    pick: 'Collections',
    pick_none: 'no documents',
    pick_count: '{n} collection(s)',
    pick_help: 'Answers with sources from these collections',
    search_title: 'Search the documents',
    search_label: 'Search terms or question',
    search_go: 'Search',
    search_all: 'All collections',
    search_none: 'No matching passages found.',
    search_weak: 'Only weak matches: the documents probably do not answer this question.',
    results: '{n} results',
    knowledge_title: 'Knowledge collections',
    collections: 'Collections',
    new_collection: 'New collection',
    name: 'Name',
    description: 'Description',
    owners: 'Owner groups (manage)',
    writers: 'Groups that may upload',
    readers: 'Groups that may read and search',
    save: 'Save',
    edit: 'Edit',
    cancel: 'Cancel',
    delete: 'Delete',
    delete_q: 'Delete the collection "{name}" with all its documents?',
    delete_doc_q: 'Delete the document "{name}"?',
    documents: 'Documents',
    docs_none: 'No documents yet.',
    upload: 'Upload files',
    upload_help: 'PDF, DOCX, ODT, TXT, Markdown, HTML, e-mail (EML), XLSX, ODS, CSV, images – several at once.',
    uploading: 'uploading',
    queued: 'waiting for indexing',
    running: 'indexing',
    done: 'indexed',
    error: 'Error',
    unchanged: 'unchanged',
    reindex: 'Re-index',
    status: 'Status',
    chunks: 'Passages',
    size: 'Size',
    jobs: 'Processing',
    folder: 'Bound folder (administrators only)',
    folder_help: 'The folder is synchronised regularly: new, changed and deleted files are noticed. It must be inside knowledge_roots.',
    folder_set: 'Bind folder',
    sync: 'Synchronise now',
    right_owner: 'owner',
    right_writer: 'may upload',
    right_reader: 'may read',
    select_hint: 'Choose a collection.',
    dense: 'Semantic (vector) search active',
    back: 'Back',
  },
};

/** A string of the knowledge pages in the UI language. */
export function kt(key, vars) {
  const tab = STRINGS[getLang()] || STRINGS.de;
  let s = tab[key] ?? STRINGS.de[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

/** The link of a passage: the original file, at its page for PDFs. */
export function sourceHref(s) {
  return s.url || `/api/documents/${s.document_id}/file`;
}

/** The sources under an answer: numbered like the citations [1], [2]. */
export function sourcesBlock(m) {
  // without sources the chat shows the academy's hint (lesson "halluzinationen")
  const list = m.sources || [];
  if (!list.length) return null;
  return h('aside', { class: 'kn-sources', 'aria-label': kt('sources') },
    h('h3', { class: 'kn-sources-title' }, kt('sources')),
    h('ol', { class: 'kn-sources-list' }, list.map((s) => h('li', { id: `src-${m.id || 'x'}-${s.n}`, value: s.n },
      h('p', { class: 'kn-src-head' },
        h('span', { class: 'kn-src-n' }, `[${s.n}]`), ' ',
        h('a', { href: sourceHref(s), target: '_blank', rel: 'noopener' }, s.title || s.name || kt('open')),
        s.section ? h('span', { class: 'kn-src-section muted' }, ' · ', s.section) : null,
        s.page ? h('span', { class: 'kn-src-page muted' }, ' · ', kt('source_page', { n: s.page })) : null),
      s.excerpt ? h('p', { class: 'kn-src-excerpt small' }, s.excerpt.length >= 400 ? s.excerpt + ' …' : s.excerpt) : null))));
}

/**
 * The collection picker for the chat composer: a <details> with one
 * checkbox per readable collection. Hidden when the user has none (or the
 * capability is missing). selected() gives the chosen ids.
 */
export function collectionPicker() {
  const chosen = new Set();
  const summary = h('summary', { class: 'btn btn-ghost btn-small kn-pick-summary' }, icon('book'), h('span', { class: 'kn-pick-label' }, kt('pick_none')));
  const box = h('div', { class: 'kn-pick-box' }, h('p', { class: 'small muted' }, kt('pick_help')));
  const el = h('details', { class: 'kn-pick', hidden: true }, summary, box);
  const label = () => {
    summary.querySelector('.kn-pick-label').textContent = chosen.size ? kt('pick_count', { n: chosen.size }) : kt('pick_none');
  };
  (async () => {
    let res;
    try { res = await api.get('/api/collections'); } catch { return; } /* no right to knowledge: stays hidden */
    const cs = (res && res.collections) || [];
    if (!cs.length) return;
    for (const c of cs) {
      const id = `kn-pick-${c.id}`;
      const cb = h('input', { type: 'checkbox', id, value: String(c.id), onchange: () => { if (cb.checked) chosen.add(c.id); else chosen.delete(c.id); label(); } });
      box.append(h('div', { class: 'kn-pick-row' }, cb, h('label', { for: id }, c.name, c.description ? h('span', { class: 'muted small' }, ' – ', c.description) : null)));
    }
    el.hidden = false;
  })();
  return { el, selected: () => [...chosen] };
}

/** Text with the words in `words` marked (<mark>), built from text nodes only. */
export function highlight(text, words) {
  const ws = (words || []).filter((w) => w && w.length > 1).sort((a, b) => b.length - a.length);
  if (!ws.length) return [text];
  const esc = ws.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`(${esc.join('|')})`, 'giu');
  const out = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(h('mark', null, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
