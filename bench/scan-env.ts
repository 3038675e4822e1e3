/**
 * The benches that time a scan against a baseline measure the scan; what storing its results as
 * OpenReports costs is bench/reports.ts's measure (it turns storing on and off itself). Those benches
 * import this first: their clusters have no OpenReports CRDs, so each run would also try to write and
 * list the failure in its errors[] (test/run.ts does the same for the suites). The benches of a whole
 * server (cold start and memory, event loop, body limit) keep the default, as a deployment has it.
 */
process.env.STACK_SCAN_REPORTS = 'off';
