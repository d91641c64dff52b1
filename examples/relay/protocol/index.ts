/**
 * The relay network's protocol layer in one import: cells, relay cells, ntor, onion layers,
 * SENDME windows, circuit IDs, descriptors and consensus. Pure code over Buffers (node:crypto
 * only, no I/O), so a relay version can load a fresh copy of it at every live update.
 * See README.md in this folder for the API and the state each part lets a relay carry.
 */
export * from './address.js';
export * from './cell.js';
export * from './circid.js';
export * from './consensus.js';
export * from './create-fast.js';
export * from './errors.js';
export * from './link-handshake.js';
export * from './ntor.js';
export * from './relay-cell.js';
export * from './relay-crypto.js';
export * from './sendme.js';
export * from './sha1.js';
