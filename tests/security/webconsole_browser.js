// The browser console in headless Chromium (Debian's), driven by playwright-core from npm:
// opens URL (with #token=... in its fragment), types LINE into the terminal and waits until
// EXPECT shows on the page; saves a screenshot to SHOT. Prints "ok" and what the page shows,
// or fails. With EXPECT "-" the page must be refused its WebSocket instead: prints
// "refused: " and its status line. Usage: node webconsole_browser.js URL LINE EXPECT SHOT
'use strict';
const { chromium } = require('playwright-core');

(async () => {
  const [url, line, expect, shot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // The server's certificate is self-signed: accepted here, in the test alone.
    args: ['--ignore-certificate-errors', '--no-sandbox', '--disable-gpu'],
  });
  let failed = false;
  let page;
  let problems = [];
  try {
    page = await browser.newPage({ viewport: { width: 900, height: 500 } });
    problems = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(String(e)));
    // Chromium gives up a load, or a WebSocket, when the host's interfaces change (other
    // tests make bridges and veths): the page is loaded again then.
    const settled = 'body[data-state="open"], body[data-state="closed"]';
    for (let i = 0; ; i++) {
      try {
        await page.goto(url);
        await page.waitForSelector(settled, { state: 'attached', timeout: 15000 });
        const state = await page.$eval('body', (b) => b.dataset.state);
        if (expect === '-' || state === 'open' || i >= 8) break;
      } catch (e) {
        if (i >= 8 || !/ERR_NETWORK_CHANGED|chrome-error/.test(e.message)) throw e;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    if (expect === '-') {
      await page.screenshot({ path: shot });
      console.log('refused: ' + await page.$eval('#status', (e) => e.textContent));
      return;
    }
    await page.waitForSelector('body[data-state="open"]', { state: 'attached', timeout: 1000 });
    // The token left the address bar.
    if (page.url().includes('token')) throw new Error('the token stays in the URL: ' + page.url());
    await page.click('#terminal');
    await page.keyboard.type(line + '\n');
    // Polled from here: waitForFunction evaluates strings, which the page's CSP forbids.
    const rows = () => page.$eval('.xterm-rows', (e) => e.textContent);
    for (let i = 0; !(await rows()).includes(expect); i++) {
      if (i > 150) throw new Error('the answer did not show: ' + (await rows()));
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.screenshot({ path: shot });
    const text = await page.$eval('.xterm-rows', (e) => e.innerText);
    const status = await page.$eval('#status', (e) => e.textContent);
    if (problems.some((p) => /Content Security Policy/i.test(p)))
      throw new Error('the page broke its CSP: ' + problems.join('; '));
    console.log('ok: ' + status);
    console.log(text.split('\n').filter((l) => l.trim()).slice(-5).join('\n'));
  } catch (e) {
    failed = true;
    console.log('FAIL: ' + e.message);
    if (page) {
      // What the page showed when it failed: the screenshot and the status line.
      await page.screenshot({ path: shot }).catch(() => {});
      console.log('status: ' + await page.$eval('#status', (x) => x.textContent).catch(() => '?'));
      console.log('page problems: ' + problems.join('; '));
    }
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})();
