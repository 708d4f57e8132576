// Loaded with --import into the drizzle-kit 1.x processes: drizzle-kit 1.x requires the bare
// `drizzle-orm`, which beside restore-drill is 0.x; its own 1.x is installed as `drizzle-orm-v1`.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === 'drizzle-orm' || specifier.startsWith('drizzle-orm/')) {
      return nextResolve(specifier.replace(/^drizzle-orm/, 'drizzle-orm-v1'), context);
    }
    return nextResolve(specifier, context);
  },
});
