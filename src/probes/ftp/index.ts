export { DEFAULT_FTP_CONTACT, type FtpOptions, ReplyReader, contactOf, ftpProbe, runFtp } from './probe.js';
export { FtpAnonymous, FtpObservation } from './schema.js';
export { FTP_LIMITS, type FtpReply, featuresOfferTls, parseFeatures, parseReply, replyMessage, replyText } from './parse.js';
