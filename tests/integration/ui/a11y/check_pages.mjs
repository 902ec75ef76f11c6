// Loads block pages in headless Chromium, runs axe-core (WCAG 2.2 A and AA rules) on each, saves
// a screenshot of each, and fails on any violation.
//
//   node check_pages.mjs PORT SCREENSHOT_DIR PREFIX PAGE...
// PAGE is "HOST?QUERY" (e.g. "casino.example.test?lang=ar"); Chromium resolves every host to
// 127.0.0.1 (--host-resolver-rules), so the Host header names the blocked site as a real
// browser's would. "HOST?QUERY!KIND" then fills in the form's reason and presses the button of
// that kind ("access", "wrong-block"), and checks the page that answers the form.
// Prints one line per page; exits 1 when any page has a violation.
import { createRequire } from 'node:module';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');
const [port, shots, prefix, ...pages] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
         '--host-resolver-rules=MAP * 127.0.0.1'],
});
let failed = 0;
try {
  for (const spec of pages) {
    const [address, action] = spec.split('!');
    const [host, query] = address.split('?');
    const page = await browser.newPage();
    await page.setViewport({ width: 800, height: 1000 });
    // The page's Content-Security-Policy allows no script at all; axe is the test's own.
    await page.setBypassCSP(true);
    let response = await page.goto(`http://${host}:${port}/?${query || ''}`, { waitUntil: 'load' });
    if (action) {
      // As a child would: a reason typed into the labelled box, then the button.
      await page.type('#reason', 'For my homework');
      [response] = await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.click(`button[value="${action}"]`),
      ]);
    }
    const result = await (async () => {
      await page.addScriptTag({ path: axePath });
      return page.evaluate(async () => {
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
    })();
    const name = `${prefix}-${host.split('.')[0]}-${(query || 'default').replace(/[^a-z0-9]+/gi, '_')}${action ? '-' + action : ''}.png`;
    // The viewport, not fullPage: Chromium's full-page capture clips right-to-left pages.
    await page.screenshot({ path: path.join(shots, name) });
    const status = response ? response.status() : 0;
    console.log(`${result.violations.length === 0 ? 'ok  ' : 'FAIL'} ${prefix} ${spec}: HTTP ${status}, lang=${result.lang} dir=${result.dir}, ${result.passes} rules passed, ${result.violations.length} violations -> ${name}`);
    for (const v of result.violations) console.log(`       ${v}`);
    if (result.violations.length !== 0) failed++;
    await page.close();
  }
} finally {
  await browser.close();
}
process.exit(failed === 0 ? 0 : 1);
