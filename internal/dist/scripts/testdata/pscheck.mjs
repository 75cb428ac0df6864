// pscheck parses a PowerShell script with tree-sitter-powershell and lists syntax errors.
//   node pscheck.mjs DIR FILE    (DIR: where 'npm install tree-sitter tree-sitter-powershell' ran)
import { createRequire } from 'module';
import { pathToFileURL } from 'url';
import path from 'path';
import fs from 'fs';

const [dir, file] = process.argv.slice(2);
const require = createRequire(path.join(dir, 'package.json'));
const Parser = require('tree-sitter');
const ps = await import(pathToFileURL(require.resolve('tree-sitter-powershell')).href);
const parser = new Parser();
parser.setLanguage(ps.default);
const src = fs.readFileSync(file, 'utf8');
let errors = 0;
(function walk(n) {
  if (n.type === 'ERROR' || n.isMissing) {
    errors++;
    const text = src.slice(n.startIndex, Math.min(n.endIndex, n.startIndex + 80)).replace(/\n/g, '\\n');
    console.log(`${file}:${n.startPosition.row + 1}:${n.startPosition.column + 1}: ${n.isMissing ? 'missing ' + n.type : 'syntax error'}: ${text}`);
  }
  for (const c of n.children) walk(c);
})(parser.parse(src).rootNode);
process.exit(errors ? 1 : 0);
