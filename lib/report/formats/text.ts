/** A message ends with a period (SARIF's and JUnit readers' convention), never longer than one line. */
export const sentence = (s: string) => {
  const one = s.replace(/\s*\n\s*/g, ' ').trim();
  return /[.!?]$/.test(one) ? one : `${one}.`;
};
