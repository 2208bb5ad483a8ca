// Prettier (`npm run format:check`, `npx prettier --write .`). Chosen by measuring the tree of 2026-12-04
// (313 TS/JS files): printWidth 120 would rewrite 276 files (+13.2k/-3.0k lines), 140: 238 (+8.7k/-2.1k),
// 160: 213 (+5.8k/-1.5k), 180: 183 (+4.0k/-1.2k). The dominant style is 4 spaces, double quotes and
// trailing commas everywhere (es5 commas instead: +22 files; single quotes: +92; 2 spaces: +94). 160 wraps
// the long expressions (lines reached 387 characters) and keeps the wide calls already written that way;
// strings and comments are never wrapped by Prettier. Data and config files keep npm's and editors' 2 spaces.
/** @type {import("prettier").Config} */
export default {
    printWidth: 160,
    tabWidth: 4,
    overrides: [{ files: ["*.json", "*.jsonc", "*.yaml", "*.yml", "*.css", "*.html"], options: { tabWidth: 2 } }],
};
