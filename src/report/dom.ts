/**
 * The few browser APIs the report page uses, declared here instead of with `lib: ["dom"]`: the core
 * is compiled without DOM (and without Node) types so that no model file can reach for either, and a
 * `/// <reference lib="dom" />` in the page would lift that for every file. The page gets them from
 * {@link browser} at run time; only the page (src/report/page/) imports this file.
 */

/** A DOM event (the members the page reads). */
export interface DomEvent {
  readonly target: unknown;
  readonly key?: string;
  readonly clientX?: number;
  readonly clientY?: number;
  preventDefault(): void;
}

/** An inline style declaration. */
export interface DomStyle {
  setProperty(name: string, value: string): void;
}

/** An element (the members the page uses). */
export interface DomElement {
  textContent: string | null;
  className: string;
  title: string;
  readonly style: DomStyle;
  scrollTop: number;
  readonly clientHeight: number;
  readonly offsetTop: number;
  append(...nodes: (DomElement | string)[]): void;
  replaceChildren(...nodes: (DomElement | string)[]): void;
  setAttribute(name: string, value: string): void;
  getAttribute(name: string): string | null;
  addEventListener(type: string, listener: (e: DomEvent) => void, opts?: { passive?: boolean }): void;
  getBoundingClientRect(): { readonly left: number; readonly top: number; readonly width: number };
  closest(selector: string): DomElement | null;
  focus(): void;
}

/** An `<input>`. */
export interface DomInput extends DomElement {
  value: string;
  min: string;
  max: string;
}

/** A 2D canvas context. */
export interface Canvas2d {
  fillStyle: string;
  strokeStyle: string;
  lineWidth: number;
  globalAlpha: number;
  font: string;
  fillRect(x: number, y: number, w: number, h: number): void;
  strokeRect(x: number, y: number, w: number, h: number): void;
  clearRect(x: number, y: number, w: number, h: number): void;
  fillText(s: string, x: number, y: number): void;
  setTransform(a: number, b: number, c: number, d: number, e: number, f: number): void;
}

/** A `<canvas>`. */
export interface DomCanvas extends DomElement {
  width: number;
  height: number;
  getContext(kind: "2d"): Canvas2d | null;
}

/** The document. */
export interface DomDocument {
  readonly body: DomElement;
  getElementById(id: string): DomElement | null;
  createElement(tag: string): DomElement;
  addEventListener(type: string, listener: (e: DomEvent) => void): void;
}

/** The globals the page uses. */
export interface Browser {
  readonly document: DomDocument;
  readonly devicePixelRatio: number;
  readonly performance: { now(): number };
  requestAnimationFrame(f: () => void): number;
}

/** The browser's globals (only meaningful inside the page). */
export const browser = (): Browser => globalThis as unknown as Browser;
