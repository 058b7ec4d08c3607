/** Declarations for what the bundler resolves: the ISO 4217 table (CommonJS data) and stylesheets. */
declare module "currency-codes/data.js" {
  const data: { code: string; number: string; digits: number; currency: string; countries: string[] }[];
  export default data;
}

/** Vite bundles the stylesheet the page imports. */
declare module "*.css";
