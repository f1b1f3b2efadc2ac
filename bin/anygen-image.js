#!/usr/bin/env node
// The built CLI lives in dist/ (npm install runs the build).
import '../dist/bin.js';
