export { createServer, type ConfabServer, type ServerOptions } from './server.ts';
export { loadConfig, type Config } from './config.ts';
