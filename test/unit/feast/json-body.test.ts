import { describe, expect, it } from 'vitest';

import { parseFeastJson } from '../../../src/feast/http/json-body.js';

describe('parseFeastJson: request bodies as Python writes them', () => {
  it('keeps integers past 2^53 exact, as decimal text', () => {
    expect(parseFeastJson('{"entities":{"id":[1,9007199254740993,-9223372036854775808]}}')).toEqual({
      entities: { id: [1, '9007199254740993', '-9223372036854775808'] },
    });
  });

  it('reads bare NaN, Infinity and -Infinity as the strings the float conversions take', () => {
    expect(parseFeastJson('{"x":[NaN,Infinity,-Infinity,-1.5e300,12345678901234567.5]}')).toEqual({
      x: ['NaN', 'Infinity', '-Infinity', -1.5e300, Number('12345678901234567.5')],
    });
  });

  it('leaves strings alone, escapes included', () => {
    const text = '{"s":["NaN 9007199254740993","a\\"Infinity\\\\",""],"n":9007199254740993}';
    expect(parseFeastJson(text)).toEqual({
      s: ['NaN 9007199254740993', 'a"Infinity\\', ''],
      n: '9007199254740993',
    });
  });

  it('parses ordinary bodies as JSON.parse does, and refuses what is not JSON', () => {
    const text = '{"a":[1,2.5,true,null,"x"],"b":{"c":-0}}';
    expect(parseFeastJson(text)).toEqual(JSON.parse(text));
    expect(() => parseFeastJson('{"a":')).toThrow(SyntaxError);
    expect(() => parseFeastJson('{"a":NaN,')).toThrow(SyntaxError);
  });
});
