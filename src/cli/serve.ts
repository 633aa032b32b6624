import type { Command } from 'commander';
import { loadConfig } from '../server/config.js';
import { tuneHeap } from '../server/heap.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the registry (config: --config FILE or PIER_CONFIG; PIER_* variables override it)')
    .option('--listen <host:port>', 'address to listen on (PIER_LISTEN, default 127.0.0.1:5000)')
    .option('--data <dir>', 'data directory (PIER_DATA, default ./data)')
    .option('--config <file>', 'YAML or JSON config file (PIER_CONFIG)')
    .action(async (flags: { listen?: string; data?: string; config?: string }) => {
      const config = loadConfig({ file: flags.config, overrides: { listen: flags.listen, data: flags.data } });
      tuneHeap();
      // imported here: the other commands need neither Fastify nor the HTTP layer
      const { startServer } = await import('../server/server.js');
      const server = await startServer(config);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        server.logger.info({ signal }, 'stopping: finishing requests in flight');
        const timer = setTimeout(() => {
          server.logger.error('requests did not finish in time; exiting');
          process.exit(1);
        }, config.shutdownTimeout);
        timer.unref();
        server.close().then(
          () => process.exit(0),
          (error) => {
            server.logger.error({ err: error }, 'error while stopping');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
