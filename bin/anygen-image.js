#!/usr/bin/env node
// The built CLI lives in dist/ (npm install runs the build). CommonJS on purpose: see
// scripts/build.mjs.
require('../dist/bin.cjs');
