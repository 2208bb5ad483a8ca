/** README.md's first screen: the commands a newcomer runs, and the page's controls it names as they are. */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../helpers/program";

const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
const ui = ["index.html", ...fs.readdirSync(path.join(ROOT, "ui")).filter((f) => f.endsWith(".js"))]
    .map((f) => fs.readFileSync(path.join(ROOT, "ui", f), "utf8"))
    .join("\n");

describe("README.md", () => {
    it("starts with what to run and do: npm ci, npm run dev, the URL, a question about an image, a batch", () => {
        const firstScreen = readme.split("\n").slice(0, 40).join("\n");
        for (const step of [
            "npm ci",
            "npm run dev",
            "Open the URL it prints",
            "API key",
            "Analyze",
            "the answer streams in",
            "Submit batch",
            "Ctrl-C stops everything",
        ]) {
            assert.ok(firstScreen.includes(step), `the first 40 lines do not say '${step}'`);
        }
        assert.ok(readme.split("\n").length <= 200, "README.md stays short: the reference lives in docs/");
    });

    it("names the page's controls as the page labels them", () => {
        const section = readme.slice(readme.indexOf("## Try it on your machine"), readme.indexOf("## Plan a real stack"));
        const named = [...section.matchAll(/\*\*([^*]+)\*\*/g)].map((m) => m[1]);
        assert.ok(named.length >= 5, named.join(", "));
        for (const label of named) assert.ok(ui.includes(label), `README names '${label}', which the UI (ui/index.html, ui/*.js) does not show`);
    });

    it("quotes what npm run dev prints", () => {
        const dev = fs.readFileSync(path.join(ROOT, "scripts", "dev.ts"), "utf8");
        for (const printed of ["open:", "API key:", "API:", "Ctrl-C stops everything"]) assert.ok(dev.includes(printed) && readme.includes(printed), printed);
        assert.match(dev, /const DEFAULT_PORT = 8088;/);
        assert.ok(readme.includes("http://127.0.0.1:8088/"));
    });
});
