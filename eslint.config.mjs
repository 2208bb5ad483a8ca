// ESLint's flat config (`npm run lint`): typescript-eslint's type-checked rules on the TypeScript tree
// (each file's nearest tsconfig.json via the project service: the root one, policy/tsconfig.json), the
// same on the page's JavaScript modules through tsconfig.ui.json (browser globals, checkJs), and the
// plain recommended rules on the few CommonJS/ESM config files. Formatting is Prettier's
// (`npm run format:check`), so no stylistic rules here. A rule turned off or relaxed says why.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
    {
        ignores: ["node_modules/", "**/node_modules/", "bin/", "gateway/dist/", "plan/", "test-output/", "ui/vendor/"],
    },
    js.configs.recommended,
    ...tseslint.configs.recommendedTypeChecked,
    {
        linterOptions: { reportUnusedDisableDirectives: "error" },
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        rules: {
            // Unused names are tsc's job too (noUnusedLocals); a leading _ marks one kept on purpose.
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
            // Off: fastify route handlers and the interfaces we implement or fake (resolvers, stores, Octokit) are
            // async by contract; an async function without await still returns a promise, which is the point.
            "@typescript-eslint/require-await": "off",
        },
    },
    {
        // Tests read what the mock engine recorded (resource inputs as untyped JSON: Helm values, manifests,
        // policy documents) and parse JSON answers; an assertion on a missing field fails, which is what these
        // rules guard in program code. Typed views of every Kubernetes object would repeat kubernetes-models.
        files: ["test/**/*.ts"],
        rules: {
            // Relaxed: an array in an assertion message reads as "1,2,3", which is what the message wants.
            "@typescript-eslint/restrict-template-expressions": [
                "error",
                { allowAny: true, allowBoolean: true, allowNullish: true, allowNumber: true, allowRegExp: true, allowArray: true },
            ],
            "@typescript-eslint/no-explicit-any": "off",
            "@typescript-eslint/no-unsafe-argument": "off",
            "@typescript-eslint/no-unsafe-assignment": "off",
            "@typescript-eslint/no-unsafe-call": "off",
            "@typescript-eslint/no-unsafe-member-access": "off",
            "@typescript-eslint/no-unsafe-return": "off",
        },
    },
    {
        // The page's ES modules (no build step, type-checked by tsconfig.ui.json) and the classic scripts it loads.
        files: ["ui/**/*.js", "ui/**/*.d.ts"],
        languageOptions: {
            globals: { ...globals.browser },
            parserOptions: { projectService: false, project: ["./tsconfig.ui.json"], tsconfigRootDir: import.meta.dirname },
        },
    },
    {
        // UMD: the page loads it as a classic script (window.gpuDicom), the worker with importScripts, Node's tests with require.
        files: ["ui/dicom.js"],
        languageOptions: { globals: { ...globals.commonjs } },
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
    {
        // A dedicated worker (new Worker("dicom-worker.js")): worker globals, and gpuDicom from ui/dicom.js via importScripts.
        files: ["ui/dicom-worker.js"],
        languageOptions: { globals: { ...globals.worker, gpuDicom: "readonly" } },
    },
    {
        // Tool configs outside every tsconfig: Node globals, no type information.
        files: ["**/*.cjs", "**/*.mjs"],
        extends: [tseslint.configs.disableTypeChecked],
        languageOptions: { globals: { ...globals.node } },
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
);
