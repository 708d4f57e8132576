import { Signer } from '@aws-sdk/rds-signer';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { iamAuthToken } from '../../lib/providers/rds/iamToken.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('the RDS IAM auth token', () => {
  test.each([
    ['long-term keys', { accessKeyId: 'AKIAEXAMPLE0000000000', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }],
    ['a session (as in Lambda)', { accessKeyId: 'ASIAEXAMPLE000000000', secretAccessKey: 'secret/with+chars=', sessionToken: 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJ+token==' }],
  ])('with %s: the same token @aws-sdk/rds-signer makes', async (_, credentials) => {
    vi.useFakeTimers({ now: new Date('2026-11-25T14:59:59Z'), toFake: ['Date'] });
    const request = { hostname: 'rd-app-20261125145959-ab12.cxyz.eu-west-1.rds.amazonaws.com', port: 5432, username: 'drill_reader', region: 'eu-west-1' };

    const ours = await iamAuthToken({ ...request, credentials });
    const theirs = await new Signer({ ...request, credentials }).getAuthToken();

    expect(ours).toBe(theirs);
    expect(ours).toMatch(/^rd-app-20261125145959-ab12\.cxyz\.eu-west-1\.rds\.amazonaws\.com:5432\/\?Action=connect&DBUser=drill_reader&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=\w+%2F20261125%2Feu-west-1%2Frds-db%2Faws4_request&X-Amz-Date=20261125T145959Z&X-Amz-Expires=900/);
  });
});
