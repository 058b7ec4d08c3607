// ESLint flat config for the TypeScript sources (Solidity is linted by solhint + prettier).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    basePath: "..",
    ignores: ["node_modules/**", "artifacts/**", "cache/**", "coverage/**", "types/**", "service/db/generated/**", ".data/**", "console/dist/**"],
  },
  {
    basePath: "..",
    files: ["**/*.ts", "**/*.tsx"],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: new URL("..", import.meta.url).pathname },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      eqeqeq: ["error", "always"],
      "no-console": "off",
      // Fastify plugins and route handlers are async by contract even when they do not await.
      "@typescript-eslint/require-await": "off",
    },
  },
);
