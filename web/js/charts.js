// charts.js - small accessible SVG charts for the dashboard, built with DOM
// calls only (createElementNS; no chart library, no HTML strings, no inline
// styles: colours come from the classes .chart-c0 ... .chart-c7 in app.css,
// each >= 3:1 against the card). Every chart is a <figure> with a caption,
// an SVG with role="img" and a text summary, a legend, and a button that
// shows the same figures as a data table (WCAG 1.1.1 / 1.4.1).
//
// chartFigure({id, type: 'stacked_bar'|'line'|'bar'|'pie', title, labels,
//   series: [{name, values}]}, {t, formatLabel}) -> HTMLElement

import { h, uid } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 260;
const PAD = { l: 44, r: 12, t: 12, b: 44 };
const COLOURS = 8;

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'style' || k.startsWith('on')) throw new Error('svg(): ' + k + ' not allowed');
    el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

const num = (v) => (Number.isFinite(Number(v)) ? Number(v) : 0);

/** A "nice" upper bound for the value axis (1, 2, 5 × 10^n). */
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function axes(max, labels, fmt) {
  const g = svg('g', { class: 'chart-axes', 'aria-hidden': 'true' });
  const ih = H - PAD.t - PAD.b;
  // counts: max is 1, 2 or 5 x 10^n (niceMax), so these steps stay whole numbers
  const n = max <= 5 ? max : 5;
  for (let i = 0; i <= n; i++) {
    const y = PAD.t + ih - (ih * i) / n;
    g.append(svg('line', { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, class: i ? 'chart-grid' : 'chart-axis' }),
      svg('text', { x: PAD.l - 6, y: y + 4, 'text-anchor': 'end', class: 'chart-tick' }, String((max * i) / n)));
  }
  const iw = W - PAD.l - PAD.r;
  const step = iw / Math.max(1, labels.length);
  const every = Math.ceil(labels.length / 6); // at most ~6 labels fit
  labels.forEach((l, i) => {
    if (i % every) return;
    g.append(svg('text', { x: PAD.l + step * (i + 0.5), y: H - PAD.b + 18, 'text-anchor': 'middle', class: 'chart-tick' }, fmt(l)));
  });
  return g;
}

function bars(chart, stacked, fmt) {
  const labels = chart.labels || [];
  const series = chart.series || [];
  const totals = labels.map((_, i) => (stacked ? series.reduce((s, x) => s + num(x.values[i]), 0)
    : Math.max(0, ...series.map((x) => num(x.values[i])))));
  const max = niceMax(Math.max(0, ...totals));
  const ih = H - PAD.t - PAD.b;
  const iw = W - PAD.l - PAD.r;
  const step = iw / Math.max(1, labels.length);
  const g = svg('g', null, axes(max, labels, fmt));
  labels.forEach((lab, i) => {
    let base = 0;
    const n = stacked ? 1 : Math.max(1, series.length);
    const bw = (step * 0.7) / n;
    series.forEach((s, k) => {
      const v = num(s.values[i]);
      const hgt = (ih * v) / max;
      const x = PAD.l + step * i + step * 0.15 + (stacked ? 0 : bw * k);
      const y = PAD.t + ih - hgt - (stacked ? (ih * base) / max : 0);
      if (v > 0) {
        g.append(svg('rect', { x: x.toFixed(1), y: y.toFixed(1), width: bw.toFixed(1), height: hgt.toFixed(1), class: 'chart-c' + (k % COLOURS) },
          svg('title', null, `${fmt(lab)}, ${s.name}: ${v}`)));
      }
      if (stacked) base += v;
    });
  });
  return g;
}

function lines(chart, fmt) {
  const labels = chart.labels || [];
  const series = chart.series || [];
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.map(num))));
  const ih = H - PAD.t - PAD.b;
  const iw = W - PAD.l - PAD.r;
  const step = iw / Math.max(1, labels.length);
  const g = svg('g', null, axes(max, labels, fmt));
  series.forEach((s, k) => {
    const pts = labels.map((_, i) => [PAD.l + step * (i + 0.5), PAD.t + ih - (ih * num(s.values[i])) / max]);
    g.append(svg('polyline', { points: pts.map((p) => p.map((x) => x.toFixed(1)).join(',')).join(' '), class: 'chart-line chart-c' + (k % COLOURS) }));
    pts.forEach((p, i) => g.append(svg('circle', { cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: 3.5, class: 'chart-c' + (k % COLOURS) },
      svg('title', null, `${fmt(labels[i])}, ${s.name}: ${num(s.values[i])}`))));
  });
  return g;
}

function pie(chart) {
  const labels = chart.labels || [];
  const values = ((chart.series || [])[0] || { values: [] }).values.map(num);
  const total = values.reduce((a, b) => a + b, 0);
  const g = svg('g');
  const cx = W / 2;
  const cy = H / 2;
  const r = H / 2 - 16;
  if (!total) {
    g.append(svg('circle', { cx, cy, r, class: 'chart-empty' }));
    return g;
  }
  let a0 = -Math.PI / 2;
  values.forEach((v, k) => {
    if (!v) return;
    const a1 = a0 + (2 * Math.PI * v) / total;
    const title = svg('title', null, `${labels[k]}: ${v}`);
    if (v === total) {
      g.append(svg('circle', { cx, cy, r, class: 'chart-c' + (k % COLOURS) }, title));
    } else {
      const p = (a) => `${(cx + r * Math.cos(a)).toFixed(1)} ${(cy + r * Math.sin(a)).toFixed(1)}`;
      const large = a1 - a0 > Math.PI ? 1 : 0;
      g.append(svg('path', { d: `M ${cx} ${cy} L ${p(a0)} A ${r} ${r} 0 ${large} 1 ${p(a1)} Z`, class: 'chart-slice chart-c' + (k % COLOURS) }, title));
    }
    a0 = a1;
  });
  return g;
}

/** One sentence per series with its total and its last value. */
export function summary(chart, t, fmt) {
  const labels = chart.labels || [];
  const parts = (chart.series || []).map((s) => {
    const vals = (s.values || []).map(num);
    if (chart.type === 'pie' || chart.type === 'bar') {
      return labels.map((l, i) => `${fmt(l)}: ${vals[i] ?? 0}`).join(', ');
    }
    const sum = vals.reduce((a, b) => a + b, 0);
    return t('dash.summary_series', { name: s.name, total: sum, last: vals[vals.length - 1] ?? 0 });
  });
  return parts.join('; ') || t('dash.no_data');
}

function dataTable(chart, t, fmt) {
  const labels = chart.labels || [];
  const series = chart.series || [];
  const head = chart.type === 'pie' || chart.type === 'bar' ? t('dash.category') : t('dash.week');
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': chart.title },
    h('table', { class: 'data' },
      h('caption', { class: 'visually-hidden' }, chart.title),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, head), series.map((s) => h('th', { scope: 'col' }, s.name)))),
      h('tbody', null, labels.map((l, i) => h('tr', null,
        h('th', { scope: 'row' }, fmt(l)),
        series.map((s) => h('td', { class: 'num' }, String(num(s.values[i])))))))));
}

/** The chart as a figure with caption, SVG, legend and a table toggle. */
export function chartFigure(chart, { t, formatLabel }) {
  const fmt = formatLabel || ((x) => String(x));
  const id = uid('chart');
  const descId = id + '-desc';
  const titleId = id + '-title';
  const desc = summary(chart, t, fmt);
  let body;
  if (chart.type === 'pie') body = pie(chart);
  else if (chart.type === 'line') body = lines(chart, fmt);
  else body = bars(chart, chart.type === 'stacked_bar', fmt);
  const picture = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${titleId} ${descId}`, class: 'chart chart-' + chart.type, focusable: 'false' },
    svg('title', { id: titleId }, chart.title),
    svg('desc', { id: descId }, desc),
    body);
  const legendItems = chart.type === 'pie' ? (chart.labels || []).map(fmt) : (chart.series || []).map((s) => s.name);
  const legend = legendItems.length > 1 || chart.type === 'pie'
    ? h('ul', { class: 'chart-legend' }, legendItems.map((name, k) => h('li', null,
      h('span', { class: 'chart-swatch chart-bg' + (k % COLOURS), 'aria-hidden': 'true' }), name)))
    : null;
  const table = dataTable(chart, t, fmt);
  const tableBox = h('div', { id: id + '-table', class: 'chart-table', hidden: true }, table);
  const toggle = h('button', { type: 'button', class: 'btn btn-small btn-ghost chart-toggle', 'aria-expanded': 'false', 'aria-controls': id + '-table' }, t('dash.show_table'));
  toggle.addEventListener('click', () => {
    const open = tableBox.hidden;
    tableBox.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    toggle.textContent = open ? t('dash.hide_table') : t('dash.show_table');
  });
  return h('figure', { class: 'card chart-card', 'data-chart': chart.id || '' },
    h('figcaption', null, h('h2', null, chart.title)),
    picture,
    legend,
    h('div', { class: 'row' }, toggle),
    tableBox);
}
