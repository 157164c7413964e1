// End-to-end tests of the console in headless Chromium (Debian's), against the real
// server binary, as a user goes through it. Each step leaves a screenshot in
// e2e/artifacts/. What the console saved is read back through the API.
//
//   LAKEWARD_BIN=…/lakeward node --test e2e/
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const BIN = process.env.LAKEWARD_BIN;
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
const XSS = `<img src=x onerror="window.__xss=1">`;
const ADMIN = { email: "ada@example.com", password: "correct horse battery" };
const VIEWER = { email: "vic@example.com", password: "viewer's own password" };

let server, base, dataDir, browser, page;
const problems = [];
let step = 0;

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function shot(name) {
  step += 1;
  await page.screenshot({ path: join(ARTIFACTS, `${String(step).padStart(2, "0")}-${name}.png`), fullPage: true });
}

/** The API as a script would call it (to check what the console did). */
async function call(path, { token, method = "GET", body, headers = {} } = {}) {
  const response = await fetch(base + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function adminToken() {
  const { body } = await call("/v1/auth/login", { method: "POST", body: ADMIN });
  return body.access_token;
}

async function signIn(who) {
  await page.goto(base + "/");
  const form = page.getByRole("form", { name: "Sign in" });
  await form.getByLabel("Email").fill(who.email);
  await form.getByLabel("Password").fill(who.password);
  await form.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("organisation").waitFor();
}

async function signOut() {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("form", { name: "Sign in" }).waitFor();
}

/** A paste from a spreadsheet: tab-separated cells, one line per row. */
async function paste(locator, text) {
  await locator.evaluate((element, text) => {
    const data = new DataTransfer();
    data.setData("text/plain", text);
    element.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  }, text);
}

before(async () => {
  assert.ok(BIN, "LAKEWARD_BIN names the server binary");
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), "lakeward-e2e-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(
    BIN,
    ["--data-dir", dataDir, "serve", "--listen", `127.0.0.1:${port}`, "--flight-listen", "off", "--rate-limit-per-minute", "100000"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/v1/health`)).ok) break;
    } catch {
      /* not listening yet */
    }
    assert.ok(i < 300, "the server started");
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // Refused requests the tests make on purpose are logged by the browser; anything
    // else logged as an error (a script error, a CSP violation) is a failure.
    if (m.type() === "error" && !/Failed to load resource: the server responded with a status of (400|401|404|409)/.test(m.text())) {
      problems.push(`console error at ${page.url()}: ${m.text()}`);
    }
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe("the console", () => {
  it("is served with a strict Content-Security-Policy and no third-party origin", async () => {
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 200);
    const csp = response.headers.get("content-security-policy");
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /style-src 'self' 'nonce-[0-9a-f]{32}';/);
    const scripts = csp.split(";").find((d) => d.trim().startsWith("script-src"));
    assert.equal(scripts.trim(), "script-src 'self'");
    assert.doesNotMatch(csp, /unsafe-eval|https?:/);
    const html = await response.text();
    assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]|https?:\/\//, "no inline script, no other origin");
  });

  it("onboards a fresh server and shows the organisation", async () => {
    await page.goto(base + "/");
    await page.getByRole("button", { name: "Create your organisation" }).first().click();
    const form = page.getByRole("form", { name: "Create your organisation" });
    await form.getByLabel("Email").fill(ADMIN.email);
    await form.getByLabel("Organisation name").fill("Acme");
    await form.getByLabel("Password").fill(ADMIN.password);
    await form.getByRole("button", { name: "Create your organisation" }).click();
    await page.getByTestId("organisation").waitFor();
    assert.equal(await page.getByTestId("organisation").textContent(), "Acme");
    assert.equal(await page.getByTestId("role").textContent(), "admin");
    assert.equal(await page.getByText("Loading Lakeward").count(), 0, "the placeholder is gone");
    // The token is kept for this tab only, not in a cookie other sites could ride on.
    assert.deepEqual(await page.context().cookies(), []);
    await shot("onboarded");
  });

  it("creates a table with a key", async () => {
    await page.getByRole("link", { name: "New table" }).click();
    const form = page.getByRole("form", { name: "New table" });
    await form.getByLabel("Catalog").fill("main");
    await form.getByLabel("Schema").fill("crm");
    await form.getByLabel("Table", { exact: true }).fill("customers");
    await form.getByRole("button", { name: "Add column" }).click();
    await form.getByLabel("Column 2 name").fill("name");
    await form.getByRole("button", { name: "Add column" }).click();
    await form.getByLabel("Column 3 name").fill("country");
    await form.getByRole("button", { name: "Create table" }).click();
    await page.getByRole("heading", { name: "main.crm.customers" }).waitFor();
    await page.getByRole("list", { name: "Catalogs" }).getByRole("link", { name: "customers" }).waitFor();
    const token = await adminToken();
    const { body } = await call("/v1/tables/main/crm/customers", { token });
    assert.deepEqual(body.schema.fields.map((f) => [f.name, f.type, f.nullable]), [
      ["id", "int64", false],
      ["name", "string", true],
      ["country", "string", true],
    ]);
    assert.deepEqual(body.primary_key, ["id"]);
    await shot("table-created");
  });

  it("sets a domain on a column from the definition", async () => {
    await page.getByRole("link", { name: "Definition" }).click();
    await page.getByRole("button", { name: "Domain of country" }).click();
    const dialog = page.getByRole("dialog", { name: "Domain of country" });
    await dialog.getByLabel("Kind").selectOption("fixed");
    await dialog.getByLabel("Allowed values, one per line").fill("DE\nFR\nIT");
    await dialog.getByRole("button", { name: "Apply domain" }).click();
    await page.getByText("Domain of country set").waitFor();
    await page.getByRole("cell", { name: "fixed: DE, FR, IT" }).waitFor();
    await shot("domain-set");
  });

  it("adds rows and edits a cell in the grid, each save one commit", async () => {
    await page.getByRole("link", { name: "Rows" }).click();
    await page.getByRole("button", { name: "Add row" }).click();
    await page.getByRole("button", { name: "Add row" }).click();
    await page.getByLabel("id, new row 1").fill("1");
    await page.getByLabel("name, new row 1").fill("Ada");
    await page.getByLabel("country, new row 1").selectOption("DE");
    await page.getByLabel("id, new row 2").fill("2");
    await page.getByLabel("name, new row 2").fill(XSS);
    await page.getByLabel("country, new row 2").selectOption("FR");
    await page.getByRole("button", { name: "Save changes (2)" }).click();
    await page.getByText("Saved 2 rows: version 2.").waitFor();

    await page.getByLabel("name, row 1").fill("Ada Lovelace");
    await page.getByRole("button", { name: "Save changes (1)" }).click();
    await page.getByText("Saved 1 row: version 3.").waitFor();
    const token = await adminToken();
    const { body } = await call("/v1/tables/main/crm/customers/rows?order=id", { token });
    assert.deepEqual(body, [
      { id: 1, name: "Ada Lovelace", country: "DE" },
      { id: 2, name: XSS, country: "FR" },
    ]);
    const history = await call("/v1/tables/main/crm/customers/history", { token });
    assert.equal(history.body[0].version, 3, "one commit per save");
    await shot("cell-edited");
  });

  it("marks a value outside the domain with the server's message and saves nothing", async () => {
    // A block pasted from a spreadsheet: name and country of row 1.
    await paste(page.getByLabel("name, row 1"), "Ada L.\tXX");
    await page.getByRole("button", { name: "Save changes (1)" }).click();
    const marked = page.locator("td.invalid");
    await marked.waitFor();
    assert.equal(await marked.count(), 1);
    assert.match(await marked.textContent(), /`XX` is not an allowed value of `country`/);
    assert.equal(await page.getByLabel("country, row 1").getAttribute("aria-invalid"), "true");
    const token = await adminToken();
    const { body } = await call("/v1/tables/main/crm/customers/rows?id=eq.1", { token });
    assert.deepEqual(body, [{ id: 1, name: "Ada Lovelace", country: "DE" }]);
    await shot("domain-refused");
    await page.getByRole("button", { name: "Discard" }).click();
  });

  it("filters on a column header and shows the equivalent request", async () => {
    await page.getByLabel("Filter name").fill("lovelace");
    await page.getByLabel("Filter operator for name").selectOption("ilike");
    await page.getByText("Rows 1–1 of 1").waitFor();
    assert.match(await page.getByTestId("request-url").textContent(), /name=ilike.\*lovelace\*/);
    await shot("filtered");
    await page.getByLabel("Filter name").fill("");
    await page.getByLabel("Filter name").press("Enter");
    await page.getByText("Rows 1–2 of 2").waitFor();
  });

  it("imports a CSV and follows the job to 100 %", async () => {
    const csv = join(dataDir, "products.csv");
    const lines = ["code,label,qty"];
    for (let i = 0; i < 50000; i++) lines.push(`P${i},L${i % 5},${i}`);
    writeFileSync(csv, lines.join("\n") + "\n");
    await page.getByRole("link", { name: "Import" }).click();
    await page.getByLabel("File (CSV, Parquet or Arrow IPC stream)").setInputFiles(csv);
    await page.getByLabel("Target catalog").fill("main");
    await page.getByLabel("Target schema").fill("crm");
    await page.getByLabel("Target table").fill("products");
    await page.getByRole("button", { name: "Inspect" }).click();
    await page.getByText("Inferred schema (50,000 rows)").waitFor();
    await page.getByLabel("code primary key").check();
    await shot("import-inferred");
    await page.getByRole("button", { name: "Start import" }).click();
    await page.getByTestId("job-status").filter({ hasText: "succeeded" }).waitFor({ timeout: 60000 });
    assert.equal(await page.locator(".progress-text").last().textContent(), "100 %");
    await page.getByText("Domains set on label").waitFor();
    await shot("import-done");
    const token = await adminToken();
    const meta = await call("/v1/tables/main/crm/products", { token });
    assert.equal(meta.body.num_rows, 50000);
    assert.deepEqual(meta.body.primary_key, ["code"]);
    assert.deepEqual(meta.body.schema.fields[1].domain.allowed_values.map((v) => v.value), ["L0", "L1", "L2", "L3", "L4"]);
  });

  it("lists the finished import on the jobs page", async () => {
    await page.getByRole("link", { name: "Jobs" }).click();
    const row = page.getByRole("row").filter({ hasText: "main.crm.products" });
    await row.waitFor();
    assert.match(await row.textContent(), /import/);
    assert.match(await row.textContent(), /succeeded/);
    assert.equal(await row.getByRole("button", { name: "Cancel" }).count(), 0, "an ended job cannot be cancelled");
    await shot("jobs");
  });

  it("runs SQL with Ctrl+Enter and shows the result", async () => {
    await page.getByRole("link", { name: "SQL" }).click();
    const editor = page.getByRole("textbox", { name: "SQL query" });
    await editor.click();
    await page.keyboard.press("Control+A");
    await page.keyboard.type("SELECT name, country FROM main.crm.customers WHERE id = 1");
    await page.keyboard.press("Control+Enter");
    await page.getByTestId("sql-status").filter({ hasText: "1 row in" }).waitFor();
    await page.getByRole("cell", { name: "Ada Lovelace" }).waitFor();
    await shot("sql-result");
    await editor.click();
    await page.keyboard.press("Control+A");
    await page.keyboard.type("SELECT * FROM main.crm.nowhere");
    await page.keyboard.press("Control+Enter");
    await page.getByRole("alert").filter({ hasText: "table `main.crm.nowhere` not found" }).waitFor();
    await shot("sql-error");
  });

  it("shows the history and rolls back after a confirmation", async () => {
    await page.getByRole("list", { name: "Catalogs" }).getByRole("link", { name: "customers" }).click();
    await page.getByRole("link", { name: "History" }).click();
    await page.getByRole("button", { name: "Roll back to version 2" }).click();
    await page.getByRole("dialog", { name: "Roll back" }).getByRole("button", { name: "Roll back" }).click();
    await page.getByText("Rolled back to version 2: the table is now at version 4.").waitFor();
    await shot("rolled-back");
    const token = await adminToken();
    const { body } = await call("/v1/tables/main/crm/customers/rows?id=eq.1", { token });
    assert.deepEqual(body, [{ id: 1, name: "Ada", country: "DE" }]);
    // An earlier version opens read-only.
    await page.getByRole("row", { name: /^3 / }).getByRole("link", { name: "View" }).click();
    await page.getByText("Viewing version 3, read-only.").waitFor();
    assert.equal(await page.getByRole("button", { name: "Add row" }).count(), 0);
    await page.getByRole("cell", { name: "Ada Lovelace" }).waitFor();
    await shot("version-3");
  });

  it("creates an API key shown once, and revokes it", async () => {
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByLabel("Name").fill("nightly");
    await page.getByRole("checkbox", { name: "tables:read", exact: true }).check();
    await page.getByRole("button", { name: "Create key" }).click();
    const key = await page.getByTestId("secret").textContent();
    assert.match(key, /^lw_live_/);
    assert.equal((await call("/v1/users/me", { token: key })).status, 200);
    await shot("api-key-created");
    await page.getByRole("button", { name: "Revoke" }).click();
    await page.getByRole("dialog", { name: "Revoke API key" }).getByRole("button", { name: "Revoke" }).click();
    await page.getByText("The key nightly was revoked.").waitFor();
    assert.equal((await call("/v1/users/me", { token: key })).status, 401);
    await shot("api-key-revoked");
  });

  it("filters the audit trail", async () => {
    await page.getByRole("link", { name: "Audit trail" }).click();
    await page.getByLabel("Action").fill("apikey.*");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.getByTestId("audit-range").filter({ hasText: "of 2" }).waitFor();
    const actions = await page.locator("table.grid tbody tr").allTextContents();
    assert.equal(actions.length, 2);
    assert.match(actions[0], /apikey\.revoked/);
    assert.match(actions[1], /apikey\.created/);
    await shot("audit");
  });

  it("invites a viewer, who sees no edit controls, and values as text", async () => {
    await page.getByRole("link", { name: "Members" }).click();
    const invite = page.getByRole("form", { name: "Invite a member" });
    await invite.getByLabel("Email").fill(VIEWER.email);
    await invite.getByLabel("Role", { exact: true }).selectOption("viewer");
    await invite.getByRole("button", { name: "Invite" }).click();
    const token = await page.getByTestId("secret").textContent();
    await shot("viewer-invited");
    await signOut();
    await page.getByRole("button", { name: "Accept an invitation" }).click();
    const accept = page.getByRole("form", { name: "Accept an invitation" });
    await accept.getByLabel("Invitation token").fill(token);
    await accept.getByLabel("Password").fill(VIEWER.password);
    await accept.getByRole("button", { name: "Set password" }).click();
    await page.getByText("Your password is set: sign in with it.").waitFor();
    await signIn(VIEWER);
    assert.equal(await page.getByTestId("role").textContent(), "viewer");
    await page.getByRole("list", { name: "Catalogs" }).getByRole("link", { name: "customers" }).click();
    await page.getByRole("cell", { name: "Ada", exact: true }).waitFor();
    for (const control of ["Add row", "Save changes (0)", "Discard", "Delete selected (0)"]) {
      assert.equal(await page.getByRole("button", { name: control }).count(), 0, control);
    }
    assert.equal(await page.locator("table.grid tbody input, table.grid tbody select").count(), 0);
    assert.equal(await page.getByRole("link", { name: "New table" }).count(), 0);
    assert.equal(await page.getByRole("link", { name: "Import" }).count(), 0);
    // The stored markup is shown as the text it is; nothing of it runs.
    await page.getByRole("cell", { name: XSS, exact: true }).waitFor();
    assert.equal(await page.locator("table.grid img").count(), 0);
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    await page.getByRole("link", { name: "Definition" }).click();
    assert.equal(await page.getByRole("button", { name: "Add column" }).count(), 0);
    await shot("viewer");
  });

  it("lets a team granted insert on the schema add rows, and nothing more", async () => {
    await signOut();
    await signIn(ADMIN);
    await page.getByRole("link", { name: "Teams" }).click();
    const create = page.getByRole("form", { name: "New team" });
    await create.getByLabel("Team name").fill("stewards");
    await create.getByRole("button", { name: "Create team" }).click();
    await page.getByText("Team stewards created.").waitFor();
    await page.getByRole("button", { name: "Members of stewards" }).click();
    const add = page.getByRole("form", { name: "Add a member to stewards" });
    await add.getByLabel("Member").selectOption({ label: VIEWER.email });
    await add.getByRole("button", { name: "Add to team" }).click();
    await page.getByText(`${VIEWER.email} joined stewards.`).waitFor();
    await shot("team");

    await page.getByRole("list", { name: "Catalogs" }).getByRole("link", { name: "customers" }).click();
    await page.getByRole("link", { name: "Access" }).click();
    const grant = page.getByRole("form", { name: "Grant privileges" });
    await grant.getByLabel("Grant on", { exact: true }).selectOption({ label: "schema main.crm" });
    await grant.getByLabel("Grant to", { exact: true }).selectOption({ label: "team stewards" });
    await grant.getByRole("checkbox", { name: "insert", exact: true }).check();
    await grant.getByRole("button", { name: "Grant" }).click();
    await page.getByText("Granted insert on main.crm.").waitFor();
    await page.getByRole("row", { name: "schema main.crm team stewards insert" }).waitFor();
    await shot("granted");

    await signOut();
    await signIn(VIEWER);
    await page.getByRole("list", { name: "Catalogs" }).getByRole("link", { name: "customers" }).click();
    await page.getByRole("button", { name: "Add row" }).click();
    assert.equal(await page.getByRole("button", { name: /^Delete selected/ }).count(), 0, "no delete granted");
    await page.getByLabel("id, new row 1").fill("3");
    await page.getByLabel("name, new row 1").fill("Vic");
    await page.getByLabel("country, new row 1").selectOption("IT");
    await page.getByRole("button", { name: "Save changes (1)" }).click();
    await page.getByText("Saved 1 row: version 5.").waitFor();
    await shot("viewer-inserted");
    const token = await adminToken();
    const { body } = await call("/v1/tables/main/crm/customers/rows?order=id&select=id,name", { token });
    assert.deepEqual(body, [{ id: 1, name: "Ada" }, { id: 2, name: XSS }, { id: 3, name: "Vic" }]);
  });

  it("logged no error in the browser", () => {
    assert.deepEqual(problems, []);
  });
});
