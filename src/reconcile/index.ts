export * from './rejections.js';
