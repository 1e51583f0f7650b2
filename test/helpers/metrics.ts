/** The samples of a Prometheus text exposition, as "name{labels}" -> value. */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** GET `url` (a /metrics endpoint), parsed. */
export async function scrape(url: string): Promise<Map<string, number>> {
  return parseExposition(await (await fetch(url)).text());
}
