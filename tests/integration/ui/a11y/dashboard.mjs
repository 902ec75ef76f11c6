// The dashboard in headless Chromium, as the safeguarding lead uses it: sign in, the overview,
// the requests page, approve the first waiting request, the incident search, a device's page,
// the exceptions, the audit log — axe-core's WCAG 2.2 A
// and AA rules and a screenshot on each page. Also a wrong password first (the page that says
// so is checked too), a forged form (403, nothing decided, audited) and, last, five wrong
// passwords in a fresh browser locking the account (the right one then gets 429).
//
//   node dashboard.mjs DASHBOARD_URL SCREENSHOT_DIR ACCOUNT PASSWORD
// Prints one line per page and "approved: <notice>"; exits 1 on any violation or when a step
// does not land where it should.
import puppeteer from 'puppeteer-core';
import { axeCheck } from './axe_check.mjs';

const [base, shots, account, password] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  acceptInsecureCerts: true,  // the dashboard's own self-signed certificate
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
let failed = 0;
const expect = (what, ok) => {
  if (!ok) {
    console.log(`FAIL ${what}`);
    failed++;
  }
};
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 900 });
  await page.setBypassCSP(true);  // the pages allow no script; axe is the test's own
  let response = await page.goto(`${base}login`, { waitUntil: 'load' });
  failed += await axeCheck(page, shots, 'dashboard-login.png', 'dashboard sign-in', response.status());

  const signIn = async (pw) => {
    await page.type('#user', account);
    await page.type('#password', pw);
    const [r] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.click('button[type="submit"]'),
    ]);
    return r;
  };
  response = await signIn('not-the-password');
  expect('a wrong password is refused', response.status() === 401);
  failed += await axeCheck(page, shots, 'dashboard-login-wrong.png', 'dashboard wrong password', response.status());

  response = await signIn(password);
  expect('signed in: the overview', page.url() === base);
  failed += await axeCheck(page, shots, 'dashboard-overview.png', 'dashboard overview', response.status());

  response = await page.goto(`${base}requests`, { waitUntil: 'load' });
  failed += await axeCheck(page, shots, 'dashboard-requests.png', 'dashboard requests', response.status());
  // A forged form (another site's post carries no valid token): refused, nothing decided.
  await page.$eval('form[action="/requests/decide"] input[name="csrf"]', (i) => { i.value = 'forged'; });
  [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click('button[value="approve"]'),
  ]);
  console.log(`forged post: HTTP ${response.status()}`);
  expect('a post with a forged CSRF token is refused', response.status() === 403);
  response = await page.goto(`${base}requests`, { waitUntil: 'load' });
  expect('the forged post decided nothing', (await page.$('button[value="approve"]')) !== null);
  [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click('button[value="approve"]'),
  ]);
  const notice = await page.$eval('.notice', (n) => n.textContent).catch(() => '');
  console.log(`approved: ${notice}`);
  expect('the approval is confirmed', / approved: /.test(notice));
  failed += await axeCheck(page, shots, 'dashboard-approved.png', 'dashboard after approval', response.status());

  response = await page.goto(`${base}incidents`, { waitUntil: 'load' });
  failed += await axeCheck(page, shots, 'dashboard-incidents.png', 'dashboard incidents', response.status());
  expect("the real dig's block is listed", (await page.content()).includes('casino.example.test'));
  const device = await page.$eval('a[href^="/device?client="]', (a) => a.href).catch(() => '');
  expect('an incident links to its device', device !== '');
  if (device) {
    response = await page.goto(device, { waitUntil: 'load' });
    failed += await axeCheck(page, shots, 'dashboard-device.png', 'dashboard device', response.status());
  }
  response = await page.goto(`${base}exceptions`, { waitUntil: 'load' });
  failed += await axeCheck(page, shots, 'dashboard-exceptions.png', 'dashboard exceptions', response.status());
  expect('the approved exception is listed', (await page.content()).includes('End now'));

  response = await page.goto(`${base}audit`, { waitUntil: 'load' });
  failed += await axeCheck(page, shots, 'dashboard-audit.png', 'dashboard audit log', response.status());
  expect('the audit log shows the refused forgery', (await page.content()).includes('csrf_refused'));

  // Five wrong passwords in a fresh browser lock the account; then the right one waits too.
  const context = await browser.createBrowserContext();
  const guesser = await context.newPage();
  let last;
  for (let i = 1; i <= 6; i++) {
    await guesser.goto(`${base}login`, { waitUntil: 'load' });
    await guesser.type('#user', account);
    await guesser.type('#password', i === 6 ? password : `wrong-guess-${i}`);
    [last] = await Promise.all([
      guesser.waitForNavigation({ waitUntil: 'load' }),
      guesser.click('button[type="submit"]'),
    ]);
    if (i === 5) {
      const text = await guesser.$eval('[role="alert"]', (n) => n.textContent).catch(() => '');
      expect('the fifth wrong password locks signing in', /locked for 15 minutes/.test(text));
    }
  }
  console.log(`locked: right password answered HTTP ${last.status()}`);
  expect('locked: the right password is refused too', last.status() === 429);
  await context.close();
} finally {
  await browser.close();
}
process.exit(failed === 0 ? 0 : 1);
