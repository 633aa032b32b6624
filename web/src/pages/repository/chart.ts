// The geometry of the pulls chart, apart from React so that it is tested without a browser.

export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ChartGeometry {
  bars: Bar[];
  /** the top of the scale: a round number at least the highest day */
  max: number;
  ticks: number[];
}

/** A scale top of 1, 2 or 5 × 10^n, so that the gridlines fall on round numbers. */
export function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** Bars of `values` in a plot area of `width` × `height`, a quarter of a slot left between them. */
export function barChart(values: number[], width: number, height: number): ChartGeometry {
  const max = niceMax(Math.max(0, ...values));
  const slot = values.length > 0 ? width / values.length : width;
  const bars = values.map((value, index) => {
    const h = (value / max) * height;
    return { x: index * slot + slot * 0.125, y: height - h, width: slot * 0.75, height: h };
  });
  const ticks = [0, max / 4, max / 2, (3 * max) / 4, max].filter((v) => Number.isInteger(v));
  return { bars, max, ticks };
}
