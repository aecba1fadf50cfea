// webmod.mjs - loads the browser modules of web/js/ in Node for the unit
// tests. They are ES modules with a .js name and no package.json beside
// them (web/ is served as it is), which Node 20.19+ detects as ES modules
// but Node 18 (Debian 12's nodejs) reads as CommonJS. So the files are
// copied once into a temporary folder marked "type": "module" and imported
// from there; relative imports between them keep working.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const src = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../web/js');
let dir = '';

function copy() {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rathaus-webjs-'));
  fs.writeFileSync(path.join(dir, 'package.json'), '{"type": "module"}\n');
  for (const f of fs.readdirSync(src)) {
    if (f.endsWith('.js')) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  }
  process.on('exit', () => { try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* gone */ } });
}

/** import() of web/js/<name> that works on Node 18 and later. */
export function importWeb(name) {
  if (!dir) copy();
  return import(pathToFileURL(path.join(dir, name)).href);
}
