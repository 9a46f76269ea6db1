// Preloaded (`--require`, by tooling/jsii-node) into the Node that runs the CDK app's jsii
// runtime: turns on Node's compile cache (module.enableCompileCache) for the modules jsii
// loads. A synth of every stage loads some 25 MB of aws-cdk-lib's and cdk-nag's JavaScript
// (cdk-nag's rules load the module of every AWS service they check), which V8 would
// otherwise parse and compile again on every synth (docs/decisions.md, "Synth speed").
//
// Node keys its cache by a module's file name, and jsii loads each package through a
// symlink in a new temporary directory every run (/tmp/jsii-kernel-XXXXXX/node_modules/
// <package> -> the package in jsii's package cache, under --preserve-symlinks): the cache
// would never hit. So a package's modules are compiled under a name that is the same every
// run: <cache>/packages/<the package's directory name in jsii's cache, a content hash>/
// node_modules/<package>/..., where this file keeps a symlink to the same package. The name
// is a real path to the same files (for __filename and __dirname) and still reads
// node_modules/<package> (CDK's stack traces fold library frames by that). Requires still
// resolve from the symlinked path: Node resolves them from the module, not from the name its
// code was compiled under. Anything unexpected leaves a module's name as it was.
"use strict";

const fs = require("fs");
const Module = require("module");
const path = require("path");

// NODE_COMPILE_CACHE (the user's choice) wins; NODE_DISABLE_COMPILE_CACHE=1 turns it off.
// Not under node_modules/: CDK names a stack frame's library by the first node_modules/<name>
// in its path.
const directory = process.env.NODE_COMPILE_CACHE || path.join(__dirname, "..", "build", "node-compile-cache");
const { status } = Module.enableCompileCache(directory);
const { ENABLED, ALREADY_ENABLED } = Module.constants.compileCacheStatus;

const IN_KERNEL = /^(.*[\\/]jsii-kernel-[^\\/]+[\\/]node_modules[\\/])((?:@[^\\/]+[\\/])?[^\\/]+)([\\/].*)$/;
const stableRoots = new Map(); // "<kernel dir>/node_modules/<package>" -> the stable one, or null

function stableRoot(link, name) {
  const target = fs.readlinkSync(link); // throws if jsii extracted the package there itself
  const root = path.join(directory, "packages", path.basename(target), "node_modules", name);
  let current = null;
  try {
    current = fs.readlinkSync(root);
  } catch {
    // not made yet
  }
  if (current !== target) {
    fs.mkdirSync(path.dirname(root), { recursive: true });
    const temporary = `${root}.${process.pid}`;
    fs.rmSync(temporary, { force: true });
    fs.symlinkSync(target, temporary);
    fs.renameSync(temporary, root); // atomic: concurrent synths agree on the target anyway
  }
  return root;
}

function stableName(filename) {
  const match = IN_KERNEL.exec(filename);
  if (!match) return filename;
  const [, modules, name, rest] = match;
  const link = modules + name;
  if (!stableRoots.has(link)) {
    let root = null;
    try {
      root = stableRoot(link, name);
    } catch {
      // no symlink to follow, or the cache directory is not writable
    }
    stableRoots.set(link, root);
  }
  const root = stableRoots.get(link);
  return root === null ? filename : root + rest;
}

if (status === ENABLED || status === ALREADY_ENABLED) {
  const compile = Module.prototype._compile;
  Module.prototype._compile = function compileUnderStableName(content, filename, ...rest) {
    return compile.call(this, content, stableName(filename), ...rest);
  };
}
