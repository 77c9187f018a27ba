// Types of scripts/apps.mjs, for the TypeScript benchmarks and tests that start the apps' bundles.
export declare const ROOT: string;
export declare const APPS: readonly string[];
export declare const NODE_FLAGS: readonly string[];
export declare function bundlePath(app: string): string;
export declare function appArgs(app: string): string[];
export declare function buildApps(apps?: readonly string[]): Promise<string[]>;
export declare const WEB_DIST: string;
export declare function buildWeb(opts?: { outDir?: string }): Promise<string>;
export declare function webFirstPageSize(distDir?: string): { files: string[]; raw: number; gzip: number };
