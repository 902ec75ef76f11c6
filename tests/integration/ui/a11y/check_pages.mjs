// Loads block pages in headless Chromium, runs axe-core (WCAG 2.2 A and AA rules) on each, saves
// a screenshot of each, and fails on any violation.
//
//   node check_pages.mjs PORT SCREENSHOT_DIR PREFIX PAGE...
// PAGE is "HOST?QUERY" (e.g. "casino.example.test?lang=ar"); Chromium resolves every host to
// 127.0.0.1 (--host-resolver-rules), so the Host header names the blocked site as a real
// browser's would. "HOST?QUERY!KIND" then fills in the form's reason and presses the button of
// that kind ("access", "wrong-block"), and checks the page that answers the form.
// Prints one line per page; exits 1 when any page has a violation.
import puppeteer from 'puppeteer-core';
import { axeCheck } from './axe_check.mjs';

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
    const name = `${prefix}-${host.split('.')[0]}-${(query || 'default').replace(/[^a-z0-9]+/gi, '_')}${action ? '-' + action : ''}.png`;
    const status = response ? response.status() : 0;
    if (await axeCheck(page, shots, name, `${prefix} ${spec}`, status) !== 0) failed++;
    await page.close();
  }
} finally {
  await browser.close();
}
process.exit(failed === 0 ? 0 : 1);
