// Shared by the browser scripts: axe-core's WCAG 2.2 A and AA rules on the page loaded in a
// puppeteer tab, and a screenshot of it.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');

// Runs axe on `page`, saves `shots/name`, prints one line; returns the number of violations.
export async function axeCheck(page, shots, name, label, status) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    });
    return {
      violations: r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.length}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
      passes: r.passes.length,
      lang: document.documentElement.lang,
      dir: document.dir,
    };
  });
  // The viewport, not fullPage: Chromium's full-page capture clips right-to-left pages.
  await page.screenshot({ path: path.join(shots, name) });
  console.log(`${result.violations.length === 0 ? 'ok  ' : 'FAIL'} ${label}: HTTP ${status}, lang=${result.lang} dir=${result.dir}, ${result.passes} rules passed, ${result.violations.length} violations -> ${name}`);
  for (const v of result.violations) console.log(`       ${v}`);
  return result.violations.length;
}
