/**
 * The finance console's build (`npm run build`): a static bundle in console/dist that the service
 * serves at /console (service/http/routes/console.ts). Nothing is fetched at run time: the proof
 * verifier (service/anchoring/proof.ts, with ethers and @openzeppelin/merkle-tree) is bundled in.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/console/",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  resolve: { alias: { react: "preact/compat", "react-dom": "preact/compat" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 1500,
    // The page must not pull anything from elsewhere: every asset is a file of this bundle.
    assetsInlineLimit: 0,
  },
});
