// ESLint for fm: typescript-eslint plus @effect/eslint-plugin, with the rules and the dprint
// formatting of the Effect repository (Effect-TS/effect, branch v3, eslint.config.mjs), and the
// project's own bans: no type assertions (`as const` stays), no non-null `!`, no `any`, no
// `@ts-ignore`, no `JSON.parse`, no `process.env` outside the configuration edge.
import * as effectEslint from "@effect/eslint-plugin"
import js from "@eslint/js"
import importPlugin from "eslint-plugin-import"
import sortDestructureKeys from "eslint-plugin-sort-destructure-keys"
import tseslint from "typescript-eslint"

/** The modules under src allowed to read `process.env` (everything else reads it through `Config`). */
const processEnvReaders = ["src/cli/bin.ts"]

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/build/**",
      "**/dist/**",
      "**/docs/**",
      "**/.tmp/**",
      "src/ui/bundle.*",
      "screenshots/**"
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...effectEslint.configs.dprint,
  {
    plugins: {
      import: importPlugin,
      "sort-destructure-keys": sortDestructureKeys
    },
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module"
    },
    linterOptions: {
      reportUnusedDisableDirectives: "error"
    },
    rules: {
      // The Effect repository's rules.
      "no-fallthrough": "off",
      "no-irregular-whitespace": "off",
      "object-shorthand": "error",
      "prefer-destructuring": "off",
      "sort-imports": "off",
      "no-restricted-syntax": [
        "error",
        {
          selector: "CallExpression[callee.property.name='push'] > SpreadElement.arguments",
          message: "Do not use spread arguments in Array.push"
        }
      ],
      "no-unused-vars": "off",
      "require-yield": "off",
      "prefer-rest-params": "off",
      "prefer-spread": "off",
      "import/first": "error",
      "import/newline-after-import": "error",
      "import/no-duplicates": "error",
      "sort-destructure-keys/sort-destructure-keys": "error",
      "@typescript-eslint/array-type": ["warn", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-unsafe-function-type": "off",
      "@typescript-eslint/no-wrapper-object-types": "off",
      "@typescript-eslint/consistent-type-imports": "warn",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-array-constructor": "off",
      "@typescript-eslint/no-use-before-define": "off",
      "@typescript-eslint/no-namespace": "off",

      // fm's own: types carry the design.
      "@typescript-eslint/consistent-type-assertions": ["error", { assertionStyle: "never" }],
      "@typescript-eslint/no-non-null-assertion": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/ban-ts-comment": ["error", { "ts-expect-error": "allow-with-description" }],

      "@effect/dprint": [
        "error",
        {
          config: {
            indentWidth: 2,
            lineWidth: 120,
            semiColons: "asi",
            quoteStyle: "alwaysDouble",
            trailingCommas: "never",
            operatorPosition: "maintain",
            "arrowFunction.useParentheses": "force"
          }
        }
      ]
    }
  },
  {
    files: ["**/*.mjs"],
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        URL: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly"
      }
    }
  },
  {
    // Tests, benchmarks and type tests: the Effect repository's settings (assertions allowed).
    files: ["test/**", "bench/**", "dtslint/**", "scratchpad/**"],
    rules: {
      "@typescript-eslint/consistent-type-assertions": "off",
      "@typescript-eslint/no-non-null-assertion": "off"
    }
  },
  {
    // The library, server and CLI: data from outside is decoded, settings come through Config.
    files: ["src/**/*.ts"],
    languageOptions: {
      // Type-aware rules only here: building the program for src alone keeps the run short.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      // A promise nobody awaits loses its error.
      "@typescript-eslint/no-floating-promises": "error",
      // An assertion the types already prove only hides the next real one.
      "@typescript-eslint/no-unnecessary-type-assertion": "error"
    }
  },
  {
    files: ["src/**/*.ts"],
    ignores: processEnvReaders,
    rules: {
      "no-restricted-properties": [
        "error",
        {
          object: "JSON",
          property: "parse",
          message: "Decode JSON with Schema.parseJson / Schema.decodeUnknown, whose errors say what is wrong"
        },
        {
          object: "process",
          property: "env",
          message: "Read settings through Config at the edge (layers / main), not process.env"
        }
      ]
    }
  }
)
