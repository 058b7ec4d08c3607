/**
 * What the console's Chromium tests share: the accessibility check every view passes and the
 * screenshots they leave in test-results/console for a reader to look at.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "playwright-core";
import { expect } from "vitest";
import { ROOT } from "./npm-start.js";

export const SHOTS = path.join(ROOT, "test-results", "console");

/** WCAG 2.1 A and AA, serious or critical, and headings that skip a level (moderate, but it is the outline a screen reader navigates by). */
export async function axe(page: Page, view: string): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const outline = await new AxeBuilder({ page }).withRules(["heading-order"]).analyze();
  const bad = [...result.violations.filter((v) => v.impact === "serious" || v.impact === "critical"), ...outline.violations];
  expect(bad.map((v) => `${view}: ${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
}

export async function shot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}
