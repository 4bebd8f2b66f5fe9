// End-to-end test of `sasf serve` in headless Chromium (Debian's /usr/bin/chromium),
// driven by playwright-core. Started by sasf-cli/tests/browser.rs, which builds the
// archive, starts the server, and checks what this script reports (one JSON line on
// stdout) against the files themselves. Each step throws on failure.
import { chromium } from 'playwright-core';

const base = process.env.SASF_URL;
const shots = process.env.SASF_SHOTS;
const long = process.env.SASF_LONG;
const out = { steps: [] };
const step = (name, data) => out.steps.push({ name, ...data });
const check = (ok, what) => {
  if (!ok) throw new Error(`check failed: ${what}`);
};

const browser = await chromium.launch({
  executablePath: process.env.SASF_CHROMIUM || '/usr/bin/chromium',
  // No background connections (the machine's network is closed), no GPU.
  args: [
    '--autoplay-policy=no-user-gesture-required',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

async function login(page, name, password) {
  await page.goto(`${base}/`);
  check(page.url().includes('/login'), `an anonymous visit goes to the login page (${page.url()})`);
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL(`${base}/`), page.click('#login-button')]);
}

async function openRecording(page, rel) {
  await page.goto(`${base}/recording?path=${encodeURIComponent(rel)}`);
  await page.waitForFunction(() => window.sasf && (window.sasf.ready || window.sasf.refused), null, { timeout: 20000 });
}

const player = (page) => page.evaluate(() => {
  const a = document.getElementById('player');
  return { t: a.currentTime, paused: a.paused, ready: a.readyState };
});

try {
  // ------------------------------------------------ a supervisor
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await login(page, 'sam', 'sam-password-1');

  // Search for a participant.
  await page.fill('input[name=participant]', 'Carl Customer');
  await Promise.all([page.waitForURL(/participant=Carl/), page.click('#search-button')]);
  const rows = await page.$$eval('table.results tbody tr', (trs) => trs.map((tr) => tr.querySelector('td.path').textContent));
  // The damaged copy did not verify, so the catalog holds nothing of its people.
  check(rows.length === 1 && rows[0] === '2026/11/sample-call.sasf', `search finds Carl's call: ${rows}`);
  const bookmark = page.url();
  await page.screenshot({ path: `${shots}/search.png`, fullPage: true });
  // The URL is the search: opened again, it gives the same rows.
  await page.goto(bookmark);
  const again = await page.$$eval('table.results tbody tr td.path', (tds) => tds.map((t) => t.textContent));
  check(JSON.stringify(again) === JSON.stringify(rows), 'a bookmarked search gives the same rows');
  step('search', { participant: 'Carl Customer', rows, url: bookmark });

  // Open the recording from the results.
  await Promise.all([
    page.waitForURL(/\/recording\?path=/),
    page.click('table.results a.open >> text=call-0001'),
  ]);
  await page.waitForFunction(() => window.sasf && window.sasf.ready, null, { timeout: 20000 });
  await page.waitForFunction(() => window.sasf.waveformAt !== null, null, { timeout: 20000 });
  const verdict = await page.textContent('#verdict');
  check(verdict === 'verified', `the status says verified (${verdict})`);
  const lanes = await page.$$eval('.lane', (ls) => ls.map((l) => [l.querySelector('.lane-name').textContent, l.querySelectorAll('.speech').length]));
  check(lanes.length === 2 && lanes.every(([, n]) => n > 0), `one lane per channel with speech: ${JSON.stringify(lanes)}`);
  step('open', { verdict, lanes });

  // Press play: currentTime advances.
  await page.click('#player');
  await page.evaluate(() => document.getElementById('player').play());
  const t0 = (await player(page)).t;
  await page.waitForTimeout(1200);
  const p1 = await player(page);
  check(!p1.paused && p1.t > t0 + 0.5, `playback advances (${t0} -> ${p1.t})`);
  step('play', { from: t0, to: p1.t });

  // Click the hold marker: the player seeks there, within 50 ms.
  const hold = await page.$eval('.marker.m-hold', (m) => Number(m.dataset.ms));
  await page.evaluate(() => document.getElementById('player').pause());
  const seeked = page.evaluate(() => new Promise((r) => document.getElementById('player').addEventListener('seeked', r, { once: true })));
  await page.click('.marker.m-hold');
  await seeked;
  const at = (await player(page)).t * 1000;
  check(Math.abs(at - hold) <= 50, `the marker seeks to ${hold} ms (player at ${at})`);
  step('marker', { event_ms: hold, player_ms: at, off_ms: Math.abs(at - hold) });
  await page.screenshot({ path: `${shots}/recording.png`, fullPage: true });

  // Add a tag: the history shows it.
  await page.fill('#tag-input', 'e2e-reviewed');
  await page.click('#tag-add');
  await page.waitForSelector('#history-list >> text=+tag e2e-reviewed', { timeout: 10000 });
  check(await page.$('#tags [data-tag="e2e-reviewed"]'), 'the tag is shown as a current tag');
  step('tag', { tag: 'e2e-reviewed' });

  // Fill in the questionnaire: the score is computed live.
  await page.selectOption('#form-select', '0');
  await page.selectOption('#q-greeting', 'yes');
  await page.selectOption('#q-identity', 'yes');
  const partial = await page.$eval('#score', (s) => Number(s.dataset.bp));
  await page.selectOption('#q-empathy', '4');
  await page.selectOption('#q-resolution', 'follow_up');
  await page.check('#q-upsell-na');
  await page.fill('#q-notes', 'checked in the browser');
  const bp = await page.$eval('#score', (s) => Number(s.dataset.bp));
  const text = await page.textContent('#score');
  check(partial === 10000 && bp !== partial, `the score changes as answers are given (${partial} -> ${bp})`);
  await page.click('#q-save');
  await page.waitForSelector('#history-list >> text=questionnaire qa-basic', { timeout: 10000 });
  const saved = await page.textContent('#history-list');
  step('questionnaire', { live_bp: bp, live_text: text, history: saved.includes((bp / 100).toFixed(2) + '%') });
  check(saved.includes((bp / 100).toFixed(2) + '%'), `the saved score is the live one (${bp})`);
  await page.screenshot({ path: `${shots}/annotated.png`, fullPage: true });

  // A damaged recording: its status, no player.
  await openRecording(page, '2026/11/damaged.sasf');
  const dv = await page.textContent('#verdict');
  check(dv === 'failed' && !(await page.$('#player')), `a damaged recording is shown failed, with no player (${dv})`);
  step('damaged', { verdict: dv });

  // The 10-hour call: interactive, and seeks that start playback.
  const timings = [];
  for (let i = 0; i < 3; i++) {
    await openRecording(page, long);
    timings.push(await page.evaluate(() => window.sasf.readyAt));
  }
  const dur = await page.evaluate(() => document.getElementById('player').duration);
  check(dur > 35990, `the long call lasts ten hours (${dur} s)`);
  await page.evaluate(() => document.getElementById('player').play());
  await page.waitForFunction(() => document.getElementById('player').currentTime > 0.2, null, { timeout: 10000 });
  // For each seek: when 'seeked' fired, when playback started (currentTime moved
  // past the target, no longer seeking), and when 50 ms had played (the page's clock
  // moves in steps, so this one is coarse).
  const seeks = [];
  for (const target of [3600, 18000, 7 * 3600 + 1234.5, 600, 9.9 * 3600]) {
    const r = await page.evaluate(
      (t) =>
        new Promise((resolve, reject) => {
          const a = document.getElementById('player');
          const start = performance.now();
          const out = { to_s: t };
          a.addEventListener('seeked', () => (out.seeked_ms = performance.now() - start), { once: true });
          const tick = () => {
            const now = performance.now() - start;
            if (!a.seeking && !a.paused && a.currentTime > t && out.start_ms === undefined) out.start_ms = now;
            if (out.start_ms !== undefined && a.currentTime > t + 0.05) {
              out.played_50ms_ms = now;
              resolve(out);
            } else if (now > 10000) reject(new Error(`no playback after seeking to ${t}`));
            else requestAnimationFrame(tick);
          };
          a.currentTime = t;
          requestAnimationFrame(tick);
        }),
      target,
    );
    seeks.push(r);
  }
  await page.waitForFunction(() => window.sasf.waveformAt !== null, null, { timeout: 60000 });
  const waveform = await page.evaluate(() => window.sasf.waveformAt);
  await page.screenshot({ path: `${shots}/long-call.png`, fullPage: false });
  step('long', { interactive_ms: timings, seeks, waveform_ms: waveform, duration_s: dur });
  check(errors.length === 0, `no page errors: ${errors}`);

  // ------------------------------------------------ an agent
  const actx = await browser.newContext();
  const apage = await actx.newPage();
  await login(apage, 'ann', 'ann-password-2');
  await apage.goto(`${base}/`);
  const mine = await apage.$$eval('table.results tbody td.path', (tds) => tds.map((t) => t.textContent));
  await openRecording(apage, '2026/11/bob-call.sasf');
  const refused = await apage.evaluate(() => window.sasf.refused || null);
  const said = (await apage.textContent('#refused')) || '';
  check(refused === 403 && said.includes('took part'), `another agent's recording is refused (${refused}: ${said})`);
  await openRecording(apage, '2026/11/sample-call.sasf');
  check(await apage.evaluate(() => window.sasf.ready), 'her own recording opens');
  check(!(await apage.$('#annotate')), 'an agent has no annotate panel');
  step('agent', { sees: mine, refused_status: refused });

  process.stdout.write(`${JSON.stringify({ ok: true, ...out })}\n`);
} catch (e) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: String(e.stack || e), ...out })}\n`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
