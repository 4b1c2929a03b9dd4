export interface Series {
  label: string
  color: string
  points: Array<[x: number, y: number]>
  dashed?: boolean
}

/** A small log-log line chart as standalone SVG: wall time (y) against number of calls (x). */
export function lineChartSvg(title: string, xLabel: string, yLabel: string, series: Series[]): string {
  const [width, height, left, right, top, bottom] = [720, 420, 70, 170, 40, 50]
  const xs = series.flatMap((s) => s.points.map(([x]) => x))
  const ys = series.flatMap((s) => s.points.map(([, y]) => y)).filter((y) => y > 0)
  const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)]
  const [yMin, yMax] = [10 ** Math.floor(Math.log10(Math.min(...ys))), 10 ** Math.ceil(Math.log10(Math.max(...ys)))]
  const sx = (x: number) =>
    left + ((Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin) || 1)) * (width - left - right)
  const sy = (y: number) =>
    height - bottom - ((Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin) || 1)) * (height - top - bottom)
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(height)}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${String(width / 2)}" y="22" text-anchor="middle" font-size="15">${escape(title)}</text>`,
  ]
  for (let decade = yMin; decade <= yMax; decade *= 10) {
    const y = sy(decade)
    parts.push(`<line x1="${String(left)}" x2="${String(width - right)}" y1="${f(y)}" y2="${f(y)}" stroke="#ddd"/>`)
    parts.push(`<text x="${String(left - 6)}" y="${f(y + 4)}" text-anchor="end">${String(decade)}</text>`)
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    parts.push(`<line x1="${f(sx(x))}" x2="${f(sx(x))}" y1="${String(top)}" y2="${String(height - bottom)}" stroke="#eee"/>`)
    parts.push(`<text x="${f(sx(x))}" y="${String(height - bottom + 16)}" text-anchor="middle">${String(x)}</text>`)
  }
  parts.push(`<text x="${String((left + width - right) / 2)}" y="${String(height - 10)}" text-anchor="middle">${escape(xLabel)}</text>`)
  parts.push(`<text transform="translate(18 ${String(height / 2)}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`)
  series.forEach((s, index) => {
    const path = s.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${f(sx(x))},${f(sy(Math.max(y, yMin)))}`).join(' ')
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : ''
    parts.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`)
    for (const [x, y] of s.points) parts.push(`<circle cx="${f(sx(x))}" cy="${f(sy(Math.max(y, yMin)))}" r="3" fill="${s.color}"/>`)
    const ly = top + 10 + index * 20
    parts.push(
      `<line x1="${String(width - right + 12)}" x2="${String(width - right + 36)}" y1="${String(ly)}" y2="${String(ly)}" stroke="${s.color}" stroke-width="2"${dash}/>`,
    )
    parts.push(`<text x="${String(width - right + 42)}" y="${String(ly + 4)}">${escape(s.label)}</text>`)
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}

function f(value: number): string {
  return value.toFixed(1)
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
