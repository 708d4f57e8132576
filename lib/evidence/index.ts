export { renderEvidence, renderEvidencePage } from './page.ts';
export { buildEvidence, missingDrills, type Evidence, type EvidenceInput, type EvidencePeriod, type EvidenceReport } from './model.ts';
export { readReportsFromBucket, readReportsFromDir, type LoadedReports, type S3Reader } from './sources.ts';
export { canonicalJson, keyIdOf, loadPublicKey, signatureStateOf, signReport, signingKeyFromEnv, type SignatureState } from './signing.ts';
