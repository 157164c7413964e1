// Measures one cold visit of a table's grid in headless Chromium (Debian's): a new browser
// context (no cache), already signed in, navigates to the table; the time until its first
// screen of rows is on the page, and every byte the browser received for it. Prints JSON.
// Used by bench/console.py:
//   node bench/first_screen.mjs BASE TOKEN catalog.schema.table EXPECTED_TOTAL_TEXT
import { chromium } from "playwright-core";

const [base, token, table, totalText] = process.argv.slice(2);
const [catalog, schema, name] = table.split(".");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
await context.addInitScript((token) => sessionStorage.setItem("lakeward.token", token), token);
const page = await context.newPage();
const cdp = await context.newCDPSession(page);
await cdp.send("Network.enable");
await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
let bytes = 0;
const requests = [];
cdp.on("Network.responseReceived", (e) => requests.push(e.response.url.replace(base, "")));
cdp.on("Network.loadingFinished", (e) => (bytes += e.encodedDataLength));

const start = performance.now();
await page.goto(`${base}/#/t/${catalog}/${schema}/${name}`);
// Usable: the rows are in the grid and the range with the table's total is shown.
await page.locator("table.grid tbody tr td").first().waitFor();
await page.getByTestId("row-range").filter({ hasText: totalText }).waitFor();
const ms = performance.now() - start;
// Let the last byte counts arrive.
await page.waitForTimeout(200);
console.log(JSON.stringify({ ms, bytes, requests }));
await browser.close();
