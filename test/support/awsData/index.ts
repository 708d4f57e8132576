export * from './arnFormats.ts';
export * from './cfnSchemas.ts';
export * from './iamData.ts';
export * from './intrinsics.ts';
export * from './policies.ts';
export * from './resourcePolicies.ts';
export * from './simulate.ts';
export * from './stateMachine.ts';
