import { describe, expect, it } from 'vitest';
import { normalizeScopeSet } from '../../../src/platform/scopes/normalize.ts';
import { RuleExpander } from '../../../src/platform/scopes/rule-expander.ts';

/**
 * Rule-level cases: every granted scope is itself an input (no `assume:` prefix), so the
 * closure semantics are exercised directly. `expect` maps an input to everything it
 * grants, directly or indirectly (the input itself excluded unless some rule grants it).
 * The input/output pairs are the ones Taskcluster's auth service is tested against.
 */
interface RuleCase {
  name: string;
  rules: Record<string, string[]>;
  expect: Record<string, string[]>;
}

const cases: RuleCase[] = [
  {
    name: 'exact rules grant their scopes and a lone star reaches all of them',
    rules: {
      a: ['A'],
      b: ['B', 'C'],
    },
    expect: {
      a: ['A'],
      b: ['B', 'C'],
      c: [],
      '*': ['A', 'B', 'C'],
    },
  },
  {
    name: 'prefix rules substitute the matched remainder for <..>',
    rules: {
      a: ['A'],
      b: ['B', 'C'],
      'c*': ['C'],
      'd*': ['D<..>'],
      'e*': ['E<..>F'],
    },
    expect: {
      a: ['A'],
      b: ['B', 'C'],
      c: ['C'],
      cccc: ['C'],
      cX: ['C'],
      'c*': ['C'],
      dX: ['DX'],
      dXYZ: ['DXYZ'],
      'd*': ['D*'],
      'dXY*': ['DXY*'],
      eX: ['EXF'],
      eXYZ: ['EXYZF'],
      'e*': ['E*'],
      'eXY*': ['EXY*'],
      q: [],
      '*': ['A', 'B', 'C', 'D*', 'E*'],
    },
  },
  {
    name: 'a star inside a pattern is literal and only a trailing star is a wildcard',
    rules: {
      'a*a': ['A'],
    },
    expect: {
      a: [],
      'a*': ['A'],
      'a*a': ['A'],
      'a*a*': ['A'],
      'a*aa*': [],
      b: [],
      '': [],
      '*': ['A'],
    },
  },
  {
    name: 'parameterized grants feed back into further rules',
    rules: {
      'a:*': ['q<..>'],
      a: ['b'],
      b: ['cc', 'eX*'],
      'c*': ['dYY'],
      'd*': ['eZZZ'],
      'e*': ['f<..>g'],
      'ff*': ['h<..>j*'],
      hej: ['hello'],
      hej2: ['hello2'],
      'h*': ['H'],
      'q*': ['Q'],
    },
    expect: {
      a: ['b', 'cc', 'dYY', 'eZZZ', 'fZZZg', 'eX*', 'fX*'],
      aa: [],
      'a:a': ['qa', 'Q'],
      'a:aa': ['qaa', 'Q'],
      z: [],
      'eU*': ['fU*'],
      'e*': ['f*', 'h*', 'hello', 'hello2', 'H'],
      e123: ['f123g'],
      eU: ['fUg'],
      hej: ['hello', 'H'],
      hej2: ['hello2', 'H'],
      hh: ['H'],
      efy: ['ffyg', 'hygj*', 'H'],
      'ef*': ['ff*', 'h*', 'H'],
      ffe: ['hej*', 'hello', 'hello2', 'H'],
      'f*': ['h*', 'H'],
      ff: ['hj*', 'H'],
      '*': ['q*', 'b', 'cc', 'eX*', 'dYY', 'eZZZ', 'f*', 'h*', 'H', 'Q'],
    },
  },
  {
    name: 'nested prefix rules all match longer inputs',
    rules: {
      'a*': ['A'],
      'aa*': ['AA'],
      'aaa*': ['AAA'],
      'ab*': ['AB'],
      'abc*': ['ABC'],
    },
    expect: {
      a: ['A'],
      aa: ['A', 'AA'],
      aaa: ['A', 'AA', 'AAA'],
      aaaa: ['A', 'AA', 'AAA'],
      'aa*': ['A', 'AA', 'AAA'],
      ab: ['A', 'AB'],
      abc: ['A', 'AB', 'ABC'],
      abcd: ['A', 'AB', 'ABC'],
      'ab*': ['A', 'AB', 'ABC'],
      'a*': ['A', 'AA', 'AAA', 'AB', 'ABC'],
    },
  },
  {
    name: 'nested prefix rules each substitute their own remainder',
    rules: {
      'a*': ['A<..>'],
      'aa*': ['AA<..>'],
      'aaa*': ['AAA<..>'],
      'ab*': ['AB<..>'],
      'abc*': ['ABC<..>'],
    },
    expect: {
      a: ['A'],
      aa: ['Aa', 'AA'],
      aaa: ['Aaa', 'AAa', 'AAA'],
      aaaa: ['Aaaa', 'AAaa', 'AAAa'],
      'aa*': ['Aa*', 'AA*'],
      ab: ['Ab', 'AB'],
      abc: ['Abc', 'ABc', 'ABC'],
      abcd: ['Abcd', 'ABcd', 'ABCd'],
      'ab*': ['Ab*', 'AB*'],
      'a*': ['A*'],
    },
  },
  {
    name: 'text after <..> is kept for literal inputs and dropped for star inputs',
    rules: {
      'a*': ['A<..>X'],
      'aa*': ['AA<..>X'],
      'aaa*': ['AAA<..>X'],
      'ab*': ['AB<..>X'],
      'abc*': ['ABC<..>X'],
    },
    expect: {
      a: ['AX'],
      aa: ['AaX', 'AAX'],
      aaa: ['AaaX', 'AAaX', 'AAAX'],
      aaaa: ['AaaaX', 'AAaaX', 'AAAaX'],
      'aa*': ['Aa*', 'AA*'],
      ab: ['AbX', 'ABX'],
      abc: ['AbcX', 'ABcX', 'ABCX'],
      abcd: ['AbcdX', 'ABcdX', 'ABCdX'],
      'ab*': ['Ab*', 'AB*'],
      'a*': ['A*'],
    },
  },
  {
    name: 'a star after <..> survives substitution',
    rules: {
      'a*': ['A<..>*'],
      'aa*': ['AA<..>*'],
      'aaa*': ['AAA<..>*'],
      'ab*': ['AB<..>*'],
      'abc*': ['ABC<..>*'],
    },
    expect: {
      a: ['A*'],
      aa: ['Aa*', 'AA*'],
      aaa: ['Aaa*', 'AAa*', 'AAA*'],
      aaaa: ['Aaaa*', 'AAaa*', 'AAAa*'],
      'aa*': ['Aa*', 'AA*'],
      ab: ['Ab*', 'AB*'],
      abc: ['Abc*', 'ABc*', 'ABC*'],
      abcd: ['Abcd*', 'ABcd*', 'ABCd*'],
      'ab*': ['Ab*', 'AB*'],
      'a*': ['A*'],
    },
  },
  {
    name: 'a suffix and star after <..> are dropped only for star inputs',
    rules: {
      'a*': ['A<..>X*'],
      'aa*': ['AA<..>X*'],
      'aaa*': ['AAA<..>X*'],
      'ab*': ['AB<..>X*'],
      'abc*': ['ABC<..>X*'],
    },
    expect: {
      a: ['AX*'],
      aa: ['AaX*', 'AAX*'],
      aaa: ['AaaX*', 'AAaX*', 'AAAX*'],
      aaaa: ['AaaaX*', 'AAaaX*', 'AAAaX*'],
      'aa*': ['Aa*', 'AA*'],
      ab: ['AbX*', 'ABX*'],
      abc: ['AbcX*', 'ABcX*', 'ABCX*'],
      abcd: ['AbcdX*', 'ABcdX*', 'ABCdX*'],
      'ab*': ['Ab*', 'AB*'],
      'a*': ['A*'],
    },
  },
  {
    name: 'acyclic chains of parameterized rules are followed to the end',
    rules: {
      a: ['START'],
      'aaa*': ['bb<..>BB'],
      'b*': ['ccc<..>*'],
      'cc*': ['dd<..>C'],
      ddcbXBB: ['C'],
      'dd*': ['eee<..>D*'],
      ddXC: ['hello-world', 'you-made-it'],
    },
    expect: {
      a: ['START'],
      aaaX: ['bbXBB', 'cccbXBB*', 'ddcbXBB*', 'C', 'eeecbXBB*'],
      ccX: ['ddXC', 'eeeXCD*', 'hello-world', 'you-made-it'],
      ddd: ['eeedD*'],
    },
  },
  {
    name: 'a substituted scope can match an exact rule further down',
    rules: {
      'a*': ['bb<..>BB'],
      'b*': ['cc<..>*'],
      'c*': ['dd<..>C'],
      ddcbXBB: ['C'],
    },
    expect: {
      aX: ['bbXBB', 'ccbXBB*', 'ddcbXBB*', 'C'],
    },
  },
  {
    name: 'without rules nothing is granted',
    rules: {},
    expect: {
      '': [],
      a: [],
      '*': [],
      'abc*': [],
    },
  },
  {
    name: 'star inputs reach exact rules they are a prefix of',
    rules: {
      a: ['A1', 'A2'],
      b: ['B1', 'B2'],
    },
    expect: {
      '': [],
      '*': ['A1', 'A2', 'B1', 'B2'],
      a: ['A1', 'A2'],
      'a*': ['A1', 'A2'],
      b: ['B1', 'B2'],
      'b*': ['B1', 'B2'],
      ab: [],
    },
  },
  {
    name: 'shared dependencies are granted once',
    rules: {
      a: ['c'],
      b: ['c'],
      c: ['D'],
    },
    expect: {
      '': [],
      c: ['D'],
      a: ['c', 'D'],
      b: ['c', 'D'],
      '*': ['c', 'D'],
      'a*': ['c', 'D'],
      'b*': ['c', 'D'],
    },
  },
  {
    name: 'prefix rules compose along a DAG',
    rules: {
      'a*': ['c'],
      'b*': ['c'],
      'c*': ['D'],
    },
    expect: {
      '': [],
      c: ['D'],
      a: ['c', 'D'],
      b: ['c', 'D'],
      '*': ['c', 'D'],
      'a*': ['c', 'D'],
      'b*': ['c', 'D'],
    },
  },
  {
    name: 'every placement of <..> and * substitutes as specified',
    rules: {
      'A*': ['b', 'c*', 'd<..>', 'e<..>*', 'f<..>g', 'h<..>i*'],
      'BC*': ['b', 'c*', 'd<..>', 'e<..>*', 'f<..>g', 'h<..>i*'],
      'B*C*': ['b', 'c*', 'd<..>', 'e<..>*', 'f<..>g', 'h<..>i*'],
    },
    expect: {
      '': [],
      A: ['b', 'c*', 'd', 'e*', 'fg', 'hi*'],
      AX: ['b', 'c*', 'dX', 'eX*', 'fXg', 'hXi*'],
      AXyX: ['b', 'c*', 'dXyX', 'eXyX*', 'fXyXg', 'hXyXi*'],
      'AX*X': ['b', 'c*', 'dX*X', 'eX*X*', 'fX*Xg', 'hX*Xi*'],
      'AZZ*': ['b', 'c*', 'dZZ*', 'eZZ*', 'fZZ*', 'hZZ*'],
      'AZZ***': ['b', 'c*', 'dZZ***', 'eZZ***', 'fZZ***', 'hZZ***'],
      'A*': ['b', 'c*', 'd*', 'e*', 'f*', 'h*'],
      'A*X': ['b', 'c*', 'd*X', 'e*X*', 'f*Xg', 'h*Xi*'],
      BC: ['b', 'c*', 'd', 'e*', 'fg', 'hi*'],
      BCX: ['b', 'c*', 'dX', 'eX*', 'fXg', 'hXi*'],
      BCXyX: ['b', 'c*', 'dXyX', 'eXyX*', 'fXyXg', 'hXyXi*'],
      'BCX*X': ['b', 'c*', 'dX*X', 'eX*X*', 'fX*Xg', 'hX*Xi*'],
      'BCZZ*': ['b', 'c*', 'dZZ*', 'eZZ*', 'fZZ*', 'hZZ*'],
      'BCZZ***': ['b', 'c*', 'dZZ***', 'eZZ***', 'fZZ***', 'hZZ***'],
      'BC*': ['b', 'c*', 'd*', 'e*', 'f*', 'h*'],
      'BC*X': ['b', 'c*', 'd*X', 'e*X*', 'f*Xg', 'h*Xi*'],
      'B*C': ['b', 'c*', 'd', 'e*', 'fg', 'hi*'],
      'B*CX': ['b', 'c*', 'dX', 'eX*', 'fXg', 'hXi*'],
      'B*CXyX': ['b', 'c*', 'dXyX', 'eXyX*', 'fXyXg', 'hXyXi*'],
      'B*CX*X': ['b', 'c*', 'dX*X', 'eX*X*', 'fX*Xg', 'hX*Xi*'],
      'B*CZZ*': ['b', 'c*', 'dZZ*', 'eZZ*', 'fZZ*', 'hZZ*'],
      'B*CZZ**': ['b', 'c*', 'dZZ**', 'eZZ**', 'fZZ**', 'hZZ**'],
      'B*C*': ['b', 'c*', 'd*', 'e*', 'f*', 'h*'],
      'B*C*X': ['b', 'c*', 'd*X', 'e*X*', 'f*Xg', 'h*Xi*'],
    },
  },
  {
    name: 'parameterized rules compose along a DAG',
    rules: {
      'a*': ['c<..>A'],
      'b*': ['c<..>B*'],
      'c*': ['e<..>'],
    },
    expect: {
      a: ['cA', 'eA'],
      abc: ['cbcA', 'ebcA'],
      bXYX: ['cXYXB*', 'eXYXB*'],
    },
  },
  {
    name: 'long chains of rules are followed transitively',
    rules: {
      a: ['b'],
      b: ['c'],
      c: ['d'],
      d: ['e'],
      e: ['f'],
      f: ['g'],
      g: ['abc'],
      abc: ['1'],
      '1': ['12'],
      '12': ['123'],
      '123': ['1234'],
      '1234': ['12345'],
      '12345': ['GOAL'],
      num: ['1*'],
    },
    expect: {
      '1': ['12', '123', '1234', '12345', 'GOAL'],
      a: ['b', 'c', 'd', 'e', 'f', 'g', 'abc', '1', '12', '123', '1234', '12345', 'GOAL'],
      d: ['e', 'f', 'g', 'abc', '1', '12', '123', '1234', '12345', 'GOAL'],
      abc: ['1', '12', '123', '1234', '12345', 'GOAL'],
      num: ['1*', 'GOAL'],
      'num*': ['1*', 'GOAL'],
      'n*': ['1*', 'GOAL'],
      '???': [],
    },
  },
  {
    name: 'exact and prefix rules on the same prefix both apply',
    rules: {
      a: ['A'],
      aa: ['AA'],
      aaa: ['AAA'],
      'a*': ['A_'],
      'aa*': ['AA_'],
      'aaa*': ['AAA_'],
    },
    expect: {
      a: ['A', 'A_'],
      aaaa: ['AAA_', 'AA_', 'A_'],
      aaa: ['A_', 'AA_', 'AAA_', 'AAA'],
    },
  },
  {
    name: 'star scopes granted along a chain reach the rules they cover',
    rules: {
      a: ['b'],
      b: ['c*'],
      c: ['d--'],
      'd*': ['e*YY'],
      'e**': ['f'],
      f: ['g'],
      g: ['abc'],
      abc: ['1'],
      '1': ['12'],
      '12': ['123*'],
      '123': ['1234'],
      '1234': ['12345'],
      '12345': ['GOAL'],
      num: ['1*'],
    },
    expect: {
      '1': ['12', '123*', 'GOAL'],
      a: ['b', 'c*', 'd--', 'e*YY', 'f', 'g', 'abc', '1', '12', '123*', 'GOAL'],
      d: ['e*YY', 'f', 'g', 'abc', '1', '12', '123*', 'GOAL'],
      abc: ['1', '12', '123*', 'GOAL'],
      num: ['1*', 'GOAL'],
      'num*': ['1*', 'GOAL'],
      'n*': ['1*', 'GOAL'],
      '???': [],
    },
  },
  {
    name: 'parameters propagate through chains of prefix rules',
    rules: {
      'aa*': ['b<..>C'],
      bb: ['cYY'],
      'c*': ['d**/<..>/'],
    },
    expect: {
      a: [],
      '???': [],
      aa: ['bC'],
      aab: ['bbC'],
      'aab*': ['bb*', 'cYY', 'd**/YY/'],
      'a*': ['b*', 'cYY', 'd**/YY/'],
      'aa*': ['b*', 'cYY', 'd**/YY/'],
      '*': ['b*', 'cYY', 'd**/*'],
    },
  },
  {
    name: 'a substituted star scope reaches exact rules it covers',
    rules: {
      'aa*': ['b<..>C'],
      bb: ['cYY'],
    },
    expect: {
      a: [],
      '???': [],
      aa: ['bC'],
      aab: ['bbC'],
      'aab*': ['bb*', 'cYY'],
      'a*': ['b*', 'cYY'],
      'aa*': ['b*', 'cYY'],
      '*': ['b*', 'cYY'],
    },
  },
  {
    name: 'a star parameter truncates the scope at <..>',
    rules: {
      'a*': ['A<..>B*'],
    },
    expect: {
      a: ['AB*'],
      'a*': ['A*'],
      '*': ['A*'],
    },
  },
  {
    name: 'a prefix rule can namespace scopes per user',
    rules: {
      'ns:*': ['index:user.<..>.*', 'notify:irc:<..>'],
    },
    expect: {
      'ns:jonasfj': ['index:user.jonasfj.*', 'notify:irc:jonasfj'],
      'ns:*': ['index:user.*', 'notify:irc:*'],
      'ns:evil*': ['index:user.evil*', 'notify:irc:evil*'],
    },
  },
  {
    name: 'substituted scopes match exact and prefix rules alike',
    rules: {
      'a*': ['A<..>B*'],
      'param:*': ['A<..>B'],
      'A-123-B': ['GOAL'],
      ATB: ['TARGET'],
      'ATB*': ['TARGET++'],
      'AT*': ['prefix'],
    },
    expect: {
      a: ['AB*'],
      'a-123': ['A-123B*'],
      'a-123-': ['A-123-B*', 'GOAL'],
      'a*': ['A*', 'GOAL', 'prefix', 'TARGET', 'TARGET++'],
      '*': ['A*', 'GOAL', 'prefix', 'TARGET', 'TARGET++'],
      'param:T': ['ATB', 'prefix', 'TARGET', 'TARGET++'],
    },
  },
];

const expanderFor = (rules: Record<string, string[]>, memoSize?: number) =>
  new RuleExpander(
    Object.entries(rules).map(([pattern, scopes]) => ({ pattern, scopes })),
    { toInput: (s) => s, memoSize },
  );

describe('RuleExpander closures', () => {
  for (const c of cases) {
    it(`computes closures where ${c.name}`, () => {
      const expander = expanderFor(c.rules);
      for (const [input, granted] of Object.entries(c.expect)) {
        expect([input, expander.closure(input)]).toEqual([input, normalizeScopeSet(granted)]);
      }
    });

    it(`computes the same closures without memoization where ${c.name}`, () => {
      const expander = expanderFor(c.rules, 0);
      for (const [input, granted] of Object.entries(c.expect)) {
        expect([input, expander.closure(input)]).toEqual([input, normalizeScopeSet(granted)]);
      }
    });
  }

  it('computes the same closures whatever order inputs are first asked in', () => {
    for (const c of cases) {
      const inputs = Object.keys(c.expect).reverse();
      const expander = expanderFor(c.rules);
      for (const input of inputs) {
        expect([c.name, input, expander.closure(input)]).toEqual([
          c.name,
          input,
          normalizeScopeSet(c.expect[input]),
        ]);
      }
    }
  });

  it('terminates on cycles among exact rules', () => {
    const expander = expanderFor({ a: ['b', 'A'], b: ['c', 'B'], c: ['a', 'C'] });
    expect(expander.closure('a')).toEqual(['A', 'B', 'C', 'a', 'b', 'c']);
    expect(expander.closure('c')).toEqual(['A', 'B', 'C', 'a', 'b', 'c']);
  });
});
