// A dynamic import, on purpose: the Lambda bundles leave the AWS SDK external, and esbuild hoists a
// static import of an external package to the top of the bundle, which would load client-rds at every
// function's init even where no RDS or Aurora database is drilled. Through this module it loads with
// the provider (see providerFor).
export const {
  CreateDBInstanceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClusterAutomatedBackupsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  ListTagsForResourceCommand,
  paginateDescribeDBClusterAutomatedBackups,
  paginateDescribeDBClusters,
  paginateDescribeDBInstanceAutomatedBackups,
  paginateDescribeDBInstances,
  RDSClient,
  RestoreDBClusterToPointInTimeCommand,
  RestoreDBInstanceToPointInTimeCommand,
} = await import('@aws-sdk/client-rds');
export type RDSClient = import('@aws-sdk/client-rds').RDSClient;
