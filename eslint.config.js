// Lint rules: the recommended sets, type-aware where it catches real bugs (floating promises).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bin/', 'scripts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A `let` read by closures before its single assignment cannot be a const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // The trust boundary (ARCHITECTURE.md): only src/kernel/ runs programs, from typed commands.
    // The test bed (src/sim/) may run tools; nothing else imports child_process or kernel/'s raw
    // runner. test/unit/kernel-boundary.test.ts checks the same by scanning the sources.
    files: ['src/**/*.ts'],
    ignores: ['src/kernel/**', 'src/sim/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['node:child_process', 'child_process'].map((name) => ({
            name,
            message: 'Only src/kernel/ runs programs: add a typed command there instead.',
          })),
          patterns: [
            {
              group: ['**/kernel/exec.js', '**/kernel/raw.js'],
              message:
                "kernel/'s raw runner is for kernel/ and the test bed: use a typed command from kernel/index.js.",
            },
          ],
        },
      ],
    },
  },
  {
    // node:test's test() returns a promise that the runner itself awaits.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
);
