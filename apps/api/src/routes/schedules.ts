/** Schedule preview for the connector form: valid or not, next three starts, in words. */
import { z } from 'zod';
import type { Schedule } from '@qpc/domain';
import { badRequest } from '../errors.ts';
import { SchedulePreviewError, nextRunTimes, scheduleText } from '../schedule-preview.ts';
import type { ServerDeps } from '../server.ts';
import { scheduleKinds } from './connector-schemas.ts';
import type { RouteTable } from './registry.ts';

export function scheduleRoutes(table: RouteTable, _deps: ServerDeps) {
  table.add({
    method: 'post',
    path: '/api/schedules/preview',
    tag: 'connectors',
    summary: 'Check a connector schedule: its next 3 start times and a description (the scheduler\'s cron parser)',
    // a read: it stores nothing
    role: 'viewer',
    body: z.strictObject({ schedule: scheduleKinds }),
    responses: { 400: 'invalid schedule (SCHEDULE_INVALID: the cron parser\'s message)' },
    handle: ({ body }) => {
      const schedule = body.schedule as Schedule;
      try {
        return { valid: true, nextRuns: nextRunTimes(schedule, 3), text: scheduleText(schedule) };
      } catch (err) {
        if (err instanceof SchedulePreviewError) throw badRequest(err.code, `schedule: ${err.message}`);
        throw err;
      }
    },
  });
}
