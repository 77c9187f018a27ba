export * from './schedules.service.ts';
